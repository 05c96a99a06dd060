import type { Wakeup } from "./wakeup";

/**
 * The Workers doorbell (design §2.13): one Durable Object per host (`idFromName(hostId)`), which
 * keeps `latest_seq` and answers long polls as soon as a ring arrives. Written against the fetch
 * interface of Durable Objects so it needs no Workers-only imports. Not yet here: the hibernatable
 * WebSocket, alarms for liveness (health is derived from `last_seen_at` instead).
 */
type Waiter = { cursor: number; resolve: (seq: number | undefined) => void };

const MAX_WAIT_MS = 25_000;

export class HostDoorbell {
  #latest = 0;
  readonly #waiters = new Set<Waiter>();

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/ring") {
      const { seq } = (await request.json()) as { seq?: unknown };
      const value = typeof seq === "number" && Number.isFinite(seq) ? seq : 0;
      this.#latest = Math.max(this.#latest, value);
      for (const w of [...this.#waiters]) {
        if (this.#latest > w.cursor) w.resolve(this.#latest);
      }
      return new Response(null, { status: 204 });
    }
    if (request.method === "GET" && url.pathname === "/wait") {
      const cursor = Number(url.searchParams.get("cursor") ?? "0");
      const timeoutMs = Math.min(MAX_WAIT_MS, Number(url.searchParams.get("timeout_ms") ?? "0"));
      const seq = await this.#wait(cursor, timeoutMs, request.signal);
      return Response.json({ seq: seq ?? null });
    }
    return new Response(null, { status: 404 });
  }

  #wait(cursor: number, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
    if (this.#latest > cursor) return Promise.resolve(this.#latest);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        cursor,
        resolve: (seq) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(seq);
        },
      };
      const timer = setTimeout(() => waiter.resolve(undefined), timeoutMs);
      signal.addEventListener("abort", () => waiter.resolve(undefined));
      this.#waiters.add(waiter);
    });
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
      const body = (await res.json()) as { seq?: unknown };
      return typeof body.seq === "number" ? body.seq : undefined;
    },
  };
}
