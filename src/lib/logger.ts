/** Structured logging seam: one JSON object per line, so logs can be shipped and queried as-is. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

type Level = "info" | "warn" | "error";

/** Writes JSON lines through a sink (console on both runtimes; a collecting array in tests). */
export function createJsonLogger(
  sink: (line: string, level: Level) => void,
  now: () => number,
): Logger {
  const write = (level: Level, message: string, fields?: LogFields) =>
    sink(JSON.stringify({ time: new Date(now()).toISOString(), level, message, ...fields }), level);
  return {
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}

export function consoleSink(line: string, level: Level): void {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
