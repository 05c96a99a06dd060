import { MAX_EVENT_MESSAGE, MAX_EVENTS_PER_BATCH } from "../../src/protocol/agent-api";

/** How often an item's new progress lines go out while it runs. */
export const PROGRESS_EVERY_MS = 2_000;

export type ProgressEvent = {
  kind: "progress";
  at: number;
  message: string;
  data?: Record<string, unknown>;
};

/**
 * An item's progress lines, sent to the control plane while the item runs (every
 * `PROGRESS_EVERY_MS`) and once more when it ends, so its log there shows how far it got. Best
 * effort: a batch that fails is logged and sent again, unchanged and under the same key (its range
 * of lines), at the next flush, so a lost answer never stores a line twice.
 */
export class ProgressOutbox {
  readonly #events: ProgressEvent[] = [];
  readonly #send: (events: ProgressEvent[], range: string) => Promise<unknown>;
  readonly #onError: (error: unknown) => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #sent = 0;
  #failed: [number, number] | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    send: (events: ProgressEvent[], range: string) => Promise<unknown>,
    onError: (error: unknown) => void,
    everyMs = PROGRESS_EVERY_MS,
  ) {
    this.#send = send;
    this.#onError = onError;
    this.#timer = setInterval(() => void this.flush(), everyMs);
    this.#timer.unref?.();
  }

  push(message: string, data?: Record<string, unknown>): void {
    this.#events.push({
      kind: "progress",
      at: Date.now(),
      message: message.slice(0, MAX_EVENT_MESSAGE),
      ...(data ? { data } : {}),
    });
  }

  /** Sends what has not gone out yet; flushes never overlap. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushOnce());
    return this.#flushing;
  }

  /** The last flush, when the item has ended. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #flushOnce(): Promise<void> {
    for (;;) {
      const [from, to] = this.#failed ?? [
        this.#sent,
        Math.min(this.#events.length, this.#sent + MAX_EVENTS_PER_BATCH),
      ];
      if (from >= to) return;
      try {
        await this.#send(this.#events.slice(from, to), `${from}-${to}`);
      } catch (error) {
        this.#failed = [from, to];
        this.#onError(error);
        return;
      }
      this.#sent = to;
      this.#failed = undefined;
    }
  }
}
