import {
  bootIdSchema,
  cancelMessage,
  DOORBELL_CLOSE,
  DOORBELL_LIVE_MS,
  DOORBELL_PING,
  DOORBELL_PONG,
  ringMessage,
} from "../protocol/doorbell";
import { type ConnectResult, type WaitNews, type Wakeup, waitNewsSchema } from "./wakeup";

/**
 * The Workers doorbell (design §2.13): one Durable Object per host (`idFromName(hostId)`). It keeps
 * `latest_seq` in its storage, holds the agent's WebSocket through the hibernation API (so an idle
 * socket costs no duration: pings are answered by the runtime's auto-response without waking it),
 * sends `{type:"ring"}` and `{type:"cancel"}` on it and answers long polls with either. Written
 * against structural types of the Durable Object API so it needs no Workers-only imports (it also
 * compiles in the Node project).
 * Not here: alarms for liveness (health is derived from `last_seen_at` instead).
 */

/** The parts of a hibernatable server-side WebSocket the doorbell uses. */
type HibernatableSocket = {
  send(message: string): void;
  close(code?: number, reason?: string): void;
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
};

/** The parts of `DurableObjectState` the doorbell uses. */
export type DoorbellState = {
  storage: {
    get<T>(key: string): Promise<T | undefined>;
    put<T>(key: string, value: T): Promise<void>;
  };
  acceptWebSocket(ws: HibernatableSocket, tags?: string[]): void;
  getWebSockets(tag?: string): HibernatableSocket[];
  setWebSocketAutoResponse(pair?: unknown): void;
  getWebSocketAutoResponseTimestamp(ws: HibernatableSocket): Date | null;
};

/** Workers globals, looked up at run time (absent when the class is used outside Workers). */
type WorkersGlobals = {
  WebSocketPair: new () => { 0: HibernatableSocket; 1: HibernatableSocket };
  WebSocketRequestResponsePair: new (request: string, response: string) => unknown;
};
const workers = globalThis as unknown as Partial<WorkersGlobals>;

/** What each socket carries across hibernation (`serializeAttachment`). */
type Attachment = { bootId: string; connectedAt: number };

type Waiter = { cursor: number; resolve: (news: WaitNews | undefined) => void };

const MAX_WAIT_MS = 25_000;
const LATEST_KEY = "latest_seq";

export class HostDoorbell {
  readonly #state: DoorbellState;
  /** A cache of the stored `latest_seq`; reloaded after the object was evicted (hibernation). */
  #latest: number | undefined;
  /** Long polls keep the object in memory while they wait, so these need no storage. */
  readonly #waiters = new Set<Waiter>();

  constructor(state: DoorbellState, _env?: unknown) {
    this.#state = state;
    // Keep-alive pings are answered by the runtime itself and do not wake a hibernated object.
    if (workers.WebSocketRequestResponsePair) {
      state.setWebSocketAutoResponse(
        new workers.WebSocketRequestResponsePair(DOORBELL_PING, DOORBELL_PONG),
      );
    }
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/ring") {
      const { seq } = (await request.json()) as { seq?: unknown };
      const value = typeof seq === "number" && Number.isFinite(seq) ? seq : 0;
      await this.#ring(value);
      return new Response(null, { status: 204 });
    }
    if (request.method === "POST" && url.pathname === "/cancel") {
      const { item_id: itemId } = (await request.json()) as { item_id?: unknown };
      if (typeof itemId !== "string") return new Response(null, { status: 400 });
      this.#send(cancelMessage(itemId));
      for (const w of [...this.#waiters]) w.resolve({ kind: "cancel", itemId });
      return new Response(null, { status: 204 });
    }
    if (request.method === "GET" && url.pathname === "/wait") {
      const cursor = Number(url.searchParams.get("cursor") ?? "0");
      const timeoutMs = Math.min(MAX_WAIT_MS, Number(url.searchParams.get("timeout_ms") ?? "0"));
      const news = await this.#wait(cursor, timeoutMs, request.signal);
      return Response.json(news ?? null);
    }
    if (request.method === "GET" && url.pathname === "/connect") {
      return this.#connect(request, url);
    }
    if (request.method === "POST" && url.pathname === "/hang-up") {
      // A ring first: the agent claims on it and hears the refusal at once, even where a proxy
      // (wrangler's, for one) holds the connection open after the close frame.
      const message = ringMessage(await this.#latestSeq());
      for (const ws of this.#state.getWebSockets()) {
        try {
          ws.send(message);
          ws.close(DOORBELL_CLOSE.hungUp, "host may no longer work");
        } catch {
          // Already closing.
        }
      }
      return new Response(null, { status: 204 });
    }
    return new Response(null, { status: 404 });
  }

  /** Hibernation handlers: pings never get here (auto-response); anything else is ignored. */
  webSocketMessage(ws: HibernatableSocket, message: string | ArrayBuffer): void {
    if (message === DOORBELL_PING) ws.send(DOORBELL_PONG);
  }

  webSocketClose(ws: HibernatableSocket, code: number, reason: string): void {
    // Complete the closing handshake; codes like 1005/1006 cannot be sent back, which is fine.
    try {
      ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }

  webSocketError(): void {
    // The runtime closes the socket; the agent reconnects and its safety claim covers the gap.
  }

  async #latestSeq(): Promise<number> {
    if (this.#latest === undefined) {
      this.#latest = (await this.#state.storage.get<number>(LATEST_KEY)) ?? 0;
    }
    return this.#latest;
  }

  async #ring(seq: number): Promise<void> {
    let latest = await this.#latestSeq();
    if (seq > latest) {
      latest = seq;
      this.#latest = seq;
      await this.#state.storage.put(LATEST_KEY, seq);
    }
    for (const w of [...this.#waiters]) {
      if (latest > w.cursor) w.resolve({ kind: "ring", seq: latest });
    }
    this.#send(ringMessage(latest));
  }

  #send(message: string): void {
    for (const ws of this.#state.getWebSockets()) {
      try {
        ws.send(message);
      } catch {
        // A socket that is closing; the agent's next claim or renewal covers it.
      }
    }
  }

  async #wait(
    cursor: number,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<WaitNews | undefined> {
    const latest = await this.#latestSeq();
    if (latest > cursor) return { kind: "ring", seq: latest };
    if (signal.aborted) return undefined;
    return new Promise((resolve) => {
      const waiter: Waiter = {
        cursor,
        resolve: (news) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(news);
        },
      };
      const timer = setTimeout(() => waiter.resolve(undefined), timeoutMs);
      signal.addEventListener("abort", () => waiter.resolve(undefined));
      this.#waiters.add(waiter);
    });
  }

  /**
   * One socket per host (design §2.13): the same boot id replaces its old socket; another boot id
   * while the old socket is live gets 409 (a cloned host); a quiet old socket is closed.
   */
  #connect(request: Request, url: URL): Response {
    const bootId = bootIdSchema.safeParse(url.searchParams.get("boot_id"));
    const Pair = workers.WebSocketPair;
    if (!bootId.success || request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !Pair) {
      return new Response(null, { status: 400 });
    }
    const now = Date.now();
    const current = this.#state.getWebSockets().map((ws) => ({ ws, ...this.#session(ws) }));
    const conflict = current.some(
      (s) =>
        s.bootId !== bootId.data && Math.max(s.connectedAt, s.pingedAt) > now - DOORBELL_LIVE_MS,
    );
    if (conflict) return new Response(null, { status: 409 });
    for (const s of current) {
      const same = s.bootId === bootId.data;
      s.ws.close(
        same ? DOORBELL_CLOSE.replaced : DOORBELL_CLOSE.superseded,
        same ? "replaced by a newer connection" : "session taken over by another boot",
      );
    }
    const pair = new Pair();
    const server = pair[1];
    this.#state.acceptWebSocket(server);
    server.serializeAttachment({ bootId: bootId.data, connectedAt: now } satisfies Attachment);
    // `webSocket` is a Workers extension of ResponseInit (status 101 is only valid with it).
    return new Response(null, { status: 101, webSocket: pair[0] } as unknown as ResponseInit);
  }

  #session(ws: HibernatableSocket): Attachment & { pingedAt: number } {
    const attachment = ws.deserializeAttachment() as Partial<Attachment> | null;
    return {
      bootId: attachment?.bootId ?? "",
      connectedAt: attachment?.connectedAt ?? 0,
      pingedAt: this.#state.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0,
    };
  }
}

/** The part of a Durable Object namespace binding the doorbell client uses. */
export type DoorbellNamespace<Id> = {
  idFromName(name: string): Id;
  get(id: Id): { fetch(input: string, init?: RequestInit): Promise<Response> };
};

/** Wakeup over the HostDoorbell Durable Objects; errors surface to `ring`'s best-effort caller. */
export function createDurableObjectWakeup<Id>(ns: DoorbellNamespace<Id>): Wakeup {
  const stub = (hostId: string) => ns.get(ns.idFromName(hostId));
  return {
    async ring(hostId, seq) {
      const res = await stub(hostId).fetch("https://doorbell/ring", {
        method: "POST",
        body: JSON.stringify({ seq }),
        headers: { "content-type": "application/json" },
      });
      await res.body?.cancel();
    },
    async wait(hostId, cursor, timeoutMs, signal) {
      const res = await stub(hostId).fetch(
        `https://doorbell/wait?cursor=${cursor}&timeout_ms=${timeoutMs}`,
        signal ? { signal } : {},
      );
      // Read defensively: it crosses a fetch boundary (null: the poll timed out).
      const news = waitNewsSchema.safeParse(await res.json());
      return news.success ? news.data : undefined;
    },
    async cancel(hostId, itemId) {
      const res = await stub(hostId).fetch("https://doorbell/cancel", {
        method: "POST",
        body: JSON.stringify({ item_id: itemId }),
        headers: { "content-type": "application/json" },
      });
      await res.body?.cancel();
    },
    async hangUp(hostId) {
      const res = await stub(hostId).fetch("https://doorbell/hang-up", { method: "POST" });
      await res.body?.cancel();
    },
    async connect(request, hostId, bootId): Promise<ConnectResult> {
      // The upgrade headers (Upgrade, Sec-WebSocket-*) go to the object, which accepts the socket.
      const res = await stub(hostId).fetch(
        `https://doorbell/connect?boot_id=${encodeURIComponent(bootId)}`,
        { headers: request.headers },
      );
      if (res.status === 409) return { accepted: false, reason: "session_conflict" };
      const webSocket = (res as { webSocket?: unknown }).webSocket;
      if (res.status !== 101 || !webSocket) throw new Error(`doorbell answered ${res.status}`);
      // A fresh response: the object's has immutable headers, and our middleware adds some.
      return {
        accepted: true,
        response: new Response(null, { status: 101, webSocket } as unknown as ResponseInit),
      };
    },
  };
}
