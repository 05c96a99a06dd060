import { closeSync, openSync, writeSync } from "node:fs";
import type { Endpoint } from "./args";

export type EventSource = "vmm" | "vm" | "virtio-device" | "vdpa" | "guest";
export type Emit = (
  source: EventSource,
  event: string,
  properties?: Record<string, string> | null,
) => void;

/**
 * CH's event monitor: every event is pretty-printed JSON plus a blank line, stamped with the time
 * since the monitor was created (not wall-clock time). Write errors are dropped, as upstream.
 */
export function createEventMonitor(
  target: Endpoint | undefined,
  alsoLog: ((line: string) => void) | undefined,
): { emit: Emit; close(): void } {
  const start = process.hrtime.bigint();
  let fd: number | undefined;
  if (target?.kind === "path")
    fd = openSync(target.path, "w"); // path= truncates at start
  else if (target?.kind === "fd") fd = target.fd;
  return {
    emit(source, event, properties = null) {
      const elapsed = process.hrtime.bigint() - start;
      const record = {
        timestamp: {
          secs: Number(elapsed / 1_000_000_000n),
          nanos: Number(elapsed % 1_000_000_000n),
        },
        source,
        event,
        properties,
      };
      const text = `${JSON.stringify(record, null, 2)}\n\n`;
      if (fd !== undefined) {
        try {
          writeSync(fd, text);
        } catch {
          // Upstream ignores write errors on the (non-blocking) event descriptor.
        }
      }
      alsoLog?.(`event: ${JSON.stringify(record)}`);
    },
    close() {
      if (fd !== undefined && target?.kind === "path") closeSync(fd);
      fd = undefined;
    },
  };
}
