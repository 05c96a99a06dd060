import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { Agent, type Dispatcher, WebSocket } from "undici";
import { waitResponseSchema } from "../../src/protocol/agent-api";
import {
  DOORBELL_PATH,
  DOORBELL_PING,
  DOORBELL_PING_INTERVAL_MS,
  doorbellMessageSchema,
} from "../../src/protocol/doorbell";
import {
  API_PREFIX,
  backoffMs,
  type ControlPlaneClient,
  ControlPlaneError,
  jitter,
} from "./client";
import type { AgentLog } from "./log";

/** How the agent currently learns that work exists (design §2.13), most to least preferred. */
export type WakeupMode = "websocket" | "long-poll" | "poll";

export type WakeupOptions = {
  /** Long poll length in seconds (≤ 25); 0 = no long poll, plain polling instead. */
  waitS: number;
  /** Plain polling period (5 s ± 20 %) when the long poll fails or is off. */
  pollMs: number;
  /** Errors of the long poll go here (the runtime stops on revocation, logs the rest). */
  onError: (error: unknown, message: string) => void;
  /** Another boot of this host kept the socket for `conflictExitMs` (a cloned host): the agent exits. */
  onSessionConflict: () => void;
  /** 409 session_conflict (design §2.11): retry this often (30 s) … */
  conflictRetryMs: number;
  /** … and give up after this long (4 minutes). */
  conflictExitMs: number;
  /**
   * A `cancel` message on the socket or the long poll, as it arrives, even while the agent is
   * busy: an item this host holds or runs was cancelled (design §2.6), which the runtime learns by
   * renewing that item at once.
   */
  onCancel?: (itemId: string) => void;
  /** This boot of the host: a reconnect with it replaces the old socket (design §2.13). */
  bootId?: string;
};

/** After the socket was up, the first reconnect waits U(0, 5 s): spreads the herd after a deploy. */
const FIRST_RECONNECT_MS = 5_000;
/** Then a full-jitter window doubling from 1 s to 64 s (design §2.11). */
const RECONNECT_CAP_MS = 64_000;
/** A watch for cancellations starts this long into an item's run. */
const WATCH_AFTER_MS = 1_000;
/** While the socket is up, a watch for cancellations looks again this often whether it went down. */
const SOCKET_CHECK_MS = 1_000;
/** No pong or ring for this long: the socket is dead even if TCP has not noticed. */
const SILENCE_MS = 3 * DOORBELL_PING_INTERVAL_MS;

/** How one socket attempt ended. */
type Attempt = "was-open" | "refused" | "session-conflict";

/**
 * undici's WebSocket does not say why an upgrade was refused; this dispatcher notes the status of
 * each upgrade answer, so a 409 session_conflict can be told from a proxy that blocks WebSockets.
 */
function upgradeStatusRecorder(record: (status: number) => void): Dispatcher {
  return new Agent().compose((dispatch) => (opts, handler) => {
    if (!opts.upgrade) return dispatch(opts, handler);
    const noting = new Proxy(handler, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        if (prop === "onHeaders") {
          return (status: number, ...rest: unknown[]) => {
            record(status);
            return value.call(target, status, ...rest);
          };
        }
        if (prop === "onResponseStart") {
          return (controller: unknown, status: number, ...rest: unknown[]) => {
            record(status);
            return value.call(target, controller, status, ...rest);
          };
        }
        return value.bind(target);
      },
    });
    return dispatch(opts, noting);
  });
}

/** The kernel's id of this boot (a restarted agent keeps it); a random one where there is none. */
function hostBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return randomUUID();
  }
}

/**
 * The agent's wake-up client: the WebSocket doorbell (`GET /connect`) while it is up, else the
 * long poll (`GET /wait`), else plain polling. The runtime asks `next()` when to claim; a ring, a
 * socket coming up and a socket going down all mean "claim now" (work may have arrived while the
 * socket was down). The runtime's 60 s safety claim runs regardless of all this.
 */
export class WakeupClient {
  readonly #client: ControlPlaneClient;
  readonly #log: AgentLog;
  readonly #o: WakeupOptions;
  readonly #bootId: string;
  #mode: WakeupMode | undefined;
  #socket: WebSocket | undefined;
  /** Something happened that calls for a claim; consumed by `next()`. */
  #pending = false;
  #wake: (() => void) | undefined;
  /** The status of the latest refused upgrade (0: none seen). */
  #refusedWith = 0;
  readonly #dispatcher = upgradeStatusRecorder((status) => {
    this.#refusedWith = status;
  });

  constructor(client: ControlPlaneClient, log: AgentLog, options: WakeupOptions) {
    this.#client = client;
    this.#log = log;
    this.#o = options;
    this.#bootId = options.bootId ?? hostBootId();
  }

  /** Keeps the doorbell socket connected (with backoff) until `signal` aborts. */
  start(signal: AbortSignal): void {
    void this.#keepConnected(signal);
  }

  /**
   * Resolves true when the agent should claim now, false when `maxMs` passed without news (the
   * caller's safety claim may then be due).
   */
  async next(cursor: number, maxMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.#takePending()) return true;
    if (this.#socket?.readyState === WebSocket.OPEN) return this.#sleep(maxMs, signal);
    const timeoutS = Math.min(this.#o.waitS, Math.floor(maxMs / 1000));
    if (this.#o.waitS === 0) {
      this.#setMode("poll", "long poll switched off");
      await this.#sleep(Math.min(maxMs, jitter(this.#o.pollMs)), signal);
      this.#takePending();
      return true;
    }
    // The safety claim is due within a second anyway.
    if (timeoutS < 1) return this.#sleep(maxMs, signal);
    return this.#longPoll(cursor, timeoutS, signal);
  }

  /**
   * Hears of the cancellation of the item the agent runs while its claim loop (whose long poll
   * carries such news) waits for it: a long poll for that item alone, until `signal` aborts. Not
   * while the socket is up, which carries them itself.
   */
  watchCancel(itemId: string, signal: AbortSignal): void {
    if (this.#o.waitS === 0) return;
    void this.#watchCancel(itemId, signal);
  }

  async #watchCancel(itemId: string, signal: AbortSignal): Promise<void> {
    let failures = 0;
    // Most items end within a second: only a longer run is worth a long poll of its own. One
    // cancelled meanwhile is answered at once (the control plane looks at the item first).
    await delay(WATCH_AFTER_MS, undefined, { signal }).catch(() => {});
    while (!signal.aborted) {
      if (this.#socket?.readyState === WebSocket.OPEN) {
        await delay(SOCKET_CHECK_MS, undefined, { signal }).catch(() => {});
        continue;
      }
      try {
        const query = `cursor=0&timeout=${this.#o.waitS}&cancel_of=${encodeURIComponent(itemId)}`;
        const reply = await this.#client.send("GET", `/wait?${query}`, {
          timeoutMs: (this.#o.waitS + 10) * 1000,
          signal,
        });
        failures = 0;
        const answer = reply.status === 200 ? waitResponseSchema.safeParse(reply.body) : undefined;
        if (!answer?.success) continue;
        // A ring: a server that does not know `cancel_of`; renewals carry the news there.
        if ("cancel" in answer.data) this.#cancelled(answer.data.item_id, "long poll");
        return;
      } catch (error) {
        // Not found: the item is no longer this host's to run. Anything else is the claim loop's
        // and the renewals' to report; this only listens.
        if (signal.aborted || (error instanceof ControlPlaneError && error.status === 404)) return;
        await delay(backoffMs(failures++, 30_000), undefined, { signal }).catch(() => {});
      }
    }
  }

  /** Waits up to `ms`; true if a ring or the socket coming up or down cut it short. */
  pause(ms: number, signal: AbortSignal): Promise<boolean> {
    return this.#sleep(ms, signal);
  }

  async #longPoll(cursor: number, timeoutS: number, signal: AbortSignal): Promise<boolean> {
    // The socket coming up ends the long poll: the caller claims once, then listens to the socket.
    const interrupt = new AbortController();
    this.#wake = () => interrupt.abort();
    try {
      const reply = await this.#client.send("GET", `/wait?cursor=${cursor}&timeout=${timeoutS}`, {
        timeoutMs: (timeoutS + 10) * 1000,
        signal: AbortSignal.any([signal, interrupt.signal]),
      });
      this.#setMode("long-poll", "doorbell socket not connected");
      const answer = reply.status === 200 ? waitResponseSchema.safeParse(reply.body) : undefined;
      if (!answer?.success) return false;
      if ("cancel" in answer.data) {
        // Not a reason to claim: the runtime renews the item, and the caller polls again.
        this.#cancelled(answer.data.item_id, "long poll");
        return false;
      }
      return true;
    } catch (error) {
      if (signal.aborted) return false;
      if (interrupt.signal.aborted) return this.#takePending();
      this.#o.onError(error, "long poll failed; polling instead");
      this.#setMode("poll", "long poll failed");
      await this.#sleep(jitter(this.#o.pollMs), signal);
      this.#takePending();
      return true;
    } finally {
      this.#wake = undefined;
    }
  }

  /** Sleeps up to `ms`; true if woken by an event (ring, socket up or down). */
  #sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.#wake = undefined;
        signal.removeEventListener("abort", stop);
        resolve(woken && this.#takePending());
      };
      const stop = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.#wake = () => done(true);
      signal.addEventListener("abort", stop, { once: true });
    });
  }

  #cancelled(itemId: string, via: "socket" | "long poll"): void {
    this.#log.info("doorbell: item cancelled", { itemId, via });
    this.#o.onCancel?.(itemId);
  }

  #takePending(): boolean {
    const was = this.#pending;
    this.#pending = false;
    return was;
  }

  /** Wakes `next()` now, or makes its next call return at once. */
  #notify(): void {
    this.#pending = true;
    this.#wake?.();
  }

  #setMode(mode: WakeupMode, reason: string): void {
    if (this.#mode === mode) return;
    this.#mode = mode;
    this.#log.info("wake-up mode", { mode, reason });
  }

  async #keepConnected(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let conflictSince: number | undefined;
    while (!signal.aborted) {
      const attempt = await this.#connectOnce(signal);
      if (signal.aborted) break;
      let delay: number;
      if (attempt === "session-conflict") {
        conflictSince ??= Date.now();
        this.#log.error(
          "security: doorbell session conflict: another boot of this host is connected",
          {
            bootId: this.#bootId,
            alert: true,
          },
        );
        if (Date.now() - conflictSince >= this.#o.conflictExitMs) {
          this.#o.onSessionConflict();
          break;
        }
        delay = this.#o.conflictRetryMs;
      } else {
        conflictSince = undefined;
        failures = attempt === "was-open" ? 0 : failures + 1;
        delay =
          failures === 0
            ? Math.random() * FIRST_RECONNECT_MS
            : backoffMs(failures, RECONNECT_CAP_MS);
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, delay);
        signal.addEventListener("abort", done, { once: true });
      });
    }
    await this.#dispatcher.close();
  }

  /** One socket's life; resolves when it is gone. */
  async #connectOnce(signal: AbortSignal): Promise<Attempt> {
    let token: string;
    try {
      token = await this.#client.accessToken();
    } catch {
      return "refused";
    }
    const url = new URL(
      `${this.#client.baseUrl}${API_PREFIX}${DOORBELL_PATH}?boot_id=${encodeURIComponent(this.#bootId)}`,
    );
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.#refusedWith = 0;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: this.#dispatcher,
    });
    return new Promise((resolve) => {
      let opened = false;
      let heardAt = Date.now();
      let pinger: NodeJS.Timeout | undefined;
      const stop = () => ws.close(1000, "agent stopping");
      const gone = (why: string) => {
        clearInterval(pinger);
        signal.removeEventListener("abort", stop);
        if (this.#socket === ws) this.#socket = undefined;
        if (opened && !signal.aborted) {
          this.#log.warn("doorbell socket closed; claiming now, long polling until it is back", {
            reason: why,
          });
          this.#setMode(this.#o.waitS === 0 ? "poll" : "long-poll", "doorbell socket closed");
          this.#notify();
        } else if (!opened && this.#mode === undefined) {
          // Refused (a proxy without WebSockets, an old server, a session conflict): the long
          // poll carries on; the next `next()` reports its mode.
          this.#log.info("doorbell socket not available; falling back", { reason: why });
        }
        if (opened) resolve("was-open");
        else resolve(this.#refusedWith === 409 ? "session-conflict" : "refused");
      };
      signal.addEventListener("abort", stop, { once: true });
      ws.addEventListener("open", () => {
        opened = true;
        heardAt = Date.now();
        this.#socket = ws;
        this.#setMode("websocket", "doorbell socket connected");
        // Work may have been queued while we were not listening.
        this.#notify();
        pinger = setInterval(() => {
          if (Date.now() - heardAt > SILENCE_MS) {
            ws.close(4002, "no pong");
            gone("no pong");
            return;
          }
          ws.send(DOORBELL_PING);
        }, DOORBELL_PING_INTERVAL_MS);
      });
      ws.addEventListener("message", (event) => {
        heardAt = Date.now();
        if (typeof event.data !== "string") return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(event.data);
        } catch {
          return; // "pong"
        }
        const message = doorbellMessageSchema.safeParse(parsed);
        if (!message.success) return;
        if (message.data.type === "cancel") {
          this.#cancelled(message.data.item_id, "socket");
          return;
        }
        this.#log.info("doorbell rang", { latestSeq: message.data.latest_seq });
        this.#notify();
      });
      ws.addEventListener("close", (event) => {
        if (this.#socket === ws || !opened) gone(`closed ${event.code} ${event.reason}`.trim());
      });
    });
  }
}
