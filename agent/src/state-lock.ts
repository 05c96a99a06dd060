import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** Held by the `strato-agent run` that uses the state directory: its pid and boot id. */
export const LOCK_FILE = "agent.lock";

export class StateDirBusy extends Error {
  override name = "StateDirBusy";
}

/**
 * One `strato-agent run` per state directory: two would both resume the journal and could run an
 * item twice (an upgrade script that starts the new agent before the old one has exited, say).
 * The lock file names the holder's pid and boot; one whose process is gone, or from an earlier
 * boot, is stale and taken over. Returns the release.
 */
export function lockStateDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const mine = `${process.pid} ${bootId()}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      try {
        writeSync(fd, `${mine}\n`);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === mine) unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = existsSync(path) ? readFileSync(path, "utf8").trim() : "";
      const [pid, boot] = holder.split(" ");
      const holderPid = Number(pid);
      if (boot === bootId() && Number.isSafeInteger(holderPid) && alive(holderPid)) {
        throw new StateDirBusy(
          `another strato-agent (pid ${holderPid}) runs with this state directory (${path})`,
        );
      }
      try {
        unlinkSync(path);
      } catch {
        // Another start removed it first; try again.
      }
    }
  }
  throw new StateDirBusy(`could not take the state directory lock (${path})`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown-boot";
  }
}
