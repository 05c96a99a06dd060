import type { Clock } from "../../src/lib/clock";
import type { LogFields, Logger } from "../../src/lib/logger";
import type { Random } from "../../src/lib/random";

/** A clock tests move by hand, so expiry and durations are deterministic. */
export class FakeClock implements Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** Deterministic bytes (xorshift32) so generated ids and tokens repeat from run to run. */
export function seededRandom(seed = 0x5eed): Random {
  let state = seed >>> 0 || 1;
  return {
    bytes(length) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        out[i] = state & 0xff;
      }
      return out;
    },
  };
}

export type LogEntry = { level: "info" | "warn" | "error"; message: string } & LogFields;

/** Collects log entries so tests can assert what was (and was not) logged. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  info(message: string, fields?: LogFields) {
    this.entries.push({ level: "info", message, ...fields });
  }
  warn(message: string, fields?: LogFields) {
    this.entries.push({ level: "warn", message, ...fields });
  }
  error(message: string, fields?: LogFields) {
    this.entries.push({ level: "error", message, ...fields });
  }
}
