import { execFile } from "node:child_process";

/**
 * The one seam through which host resources run external commands (qemu-img, mkfs.vfat, mcopy,
 * ip). Arguments always travel as an array: no shell ever parses them.
 */
export type Exec = (
  command: string,
  args: readonly string[],
  options?: ExecOptions,
) => Promise<ExecResult>;

export type ExecOptions = {
  /** Kill the command after this long (default: the seam's default, 60 s). */
  timeoutMs?: number;
};

export type ExecResult = { stdout: string; stderr: string };

/** A command ran and failed (non-zero exit or killed by a signal). */
export class CommandError extends Error {
  override name = "CommandError";
  readonly command: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(
    command: string,
    args: readonly string[],
    result: { exitCode: number | null; signal: string | null; stdout: string; stderr: string },
    message?: string,
  ) {
    const why =
      message ??
      (result.exitCode !== null ? `exited with ${result.exitCode}` : `killed by ${result.signal}`);
    const detail = result.stderr.trim().split("\n").slice(-3).join(" | ");
    super(`${command} ${why}${detail ? `: ${detail}` : ""}`);
    this.command = command;
    this.args = args;
    this.exitCode = result.exitCode;
    this.signal = result.signal;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

/** The command did not finish within its timeout and was killed. */
export class CommandTimeoutError extends CommandError {
  override name = "CommandTimeoutError";
}

/** The executable does not exist on the PATH the seam was given. */
export class CommandNotFoundError extends CommandError {
  override name = "CommandNotFoundError";
}

export type CreateExecOptions = {
  /**
   * Prepended to every command line, e.g. `["ip", "netns", "exec", "ns1"]` so a test runs every
   * command inside its own network namespace.
   */
  prefix?: readonly string[];
  /** The child's whole environment (PATH included); default: inherit the agent's. */
  env?: Readonly<Record<string, string>>;
  defaultTimeoutMs?: number;
  /** Largest stdout/stderr kept, per stream. */
  maxBufferBytes?: number;
};

/** The real seam over `child_process.execFile`. */
export function createExec(options: CreateExecOptions = {}): Exec {
  const prefix = options.prefix ?? [];
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
  const maxBuffer = options.maxBufferBytes ?? 16 * 1024 * 1024;
  return (command, args, callOptions) => {
    const [program = command, ...argv] = [...prefix, command, ...args];
    const timeout = callOptions?.timeoutMs ?? defaultTimeoutMs;
    return new Promise((resolve, reject) => {
      execFile(
        program,
        argv,
        {
          timeout,
          maxBuffer,
          encoding: "utf8",
          killSignal: "SIGKILL",
          windowsHide: true,
          ...(options.env ? { env: { ...options.env } } : {}),
        },
        (error, stdout, stderr) => {
          if (!error) return resolve({ stdout, stderr });
          const code = (error as NodeJS.ErrnoException).code;
          const result = {
            exitCode: typeof error.code === "number" ? error.code : null,
            signal: error.signal ?? null,
            stdout,
            stderr,
          };
          if (code === "ENOENT") {
            reject(new CommandNotFoundError(command, args, result, "not found"));
          } else if (error.killed && result.signal === "SIGKILL" && result.exitCode === null) {
            reject(new CommandTimeoutError(command, args, result, `timed out after ${timeout} ms`));
          } else {
            reject(new CommandError(command, args, result));
          }
        },
      );
    });
  };
}
