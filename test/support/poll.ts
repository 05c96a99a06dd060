/**
 * Polling helpers for tests that share a database file with a running server or watch processes.
 */

function isBusy(error: unknown): boolean {
  return (
    String(error).includes("SQLITE_BUSY") ||
    String((error as { cause?: unknown }).cause).includes("SQLITE_BUSY")
  );
}

/** Runs a write that may meet the server's lock on the same file; busy moments are retried. */
export async function busy<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i > 100 || !isBusy(error)) throw error;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
}

/**
 * Polls `fn` until it returns something other than undefined (a throw counts as a miss: the
 * server may hold the lock); on timeout the error carries `context()` (process output).
 */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  options: { timeoutMs?: number; context?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}\n${options.context?.() ?? ""}`);
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}
