import { z } from "zod";

/**
 * The wake-up seam (design §2.13): a doorbell that tells a waiting agent "work exists, go and
 * claim". It carries no authority and no work; correctness never depends on it, because agents also
 * claim on a timer. `ring` is best effort and must never throw into the caller's request.
 */
export interface Wakeup {
  /** Work with this `seq` was committed for the host (or something else worth a claim happened). */
  ring(hostId: string, seq: number): Promise<void>;
  /**
   * The long poll: resolves with a ring (the latest rung `seq`) once one above `cursor` is known,
   * with a cancel when one of the host's items is cancelled meanwhile, or with `undefined` after
   * `timeoutMs` (or when `signal` aborts).
   */
  wait(
    hostId: string,
    cursor: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WaitNews | undefined>;
  /**
   * Takes the WebSocket upgrade in `request` (already authenticated for `hostId`) as the host's
   * doorbell socket; rings are then also sent on it. Absent where the runtime cannot hold sockets:
   * agents long-poll instead.
   */
  connect?(request: Request, hostId: string, bootId: string): Promise<ConnectResult>;
  /**
   * Tells the host's agent, on its socket or its waiting long poll, that an item it holds or runs
   * was cancelled, so it renews that item now rather than at its next renewal. Best effort, like
   * `ring`: an agent between two long polls learns at its next renewal.
   */
  cancel?(hostId: string, itemId: string): Promise<void>;
  /**
   * Rings the host's doorbell socket once more and closes it: the host may no longer work
   * (rejected, disabled, revoked). The agent claims on the ring (and whenever its socket drops), so
   * the refusal reaches it now, not at its next timer. Best effort, like `ring`.
   */
  hangUp?(hostId: string): Promise<void>;
}

/** What ends a long poll before its timeout: work above the cursor, or a cancelled item. */
export const waitNewsSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("ring"), seq: z.number().int() }),
  z.object({ kind: z.literal("cancel"), itemId: z.string() }),
]);
export type WaitNews = z.infer<typeof waitNewsSchema>;

/**
 * `accepted`: answer with `response` (the upgrade). `session_conflict`: another boot of this host
 * holds a live socket (design §2.13: a cloned host image).
 */
export type ConnectResult =
  | { accepted: true; response: Response }
  | { accepted: false; reason: "session_conflict" };

/** A connected doorbell socket, as the doorbells use it. */
export type DoorbellSocket = {
  send(text: string): void;
  close(code: number, reason: string): void;
};

/** A wake-up that never rings: agents fall back to their timers. */
export const silentWakeup: Wakeup = {
  async ring() {},
  wait(_hostId, _cursor, timeoutMs, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  },
};
