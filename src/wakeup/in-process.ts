import {
  cancelMessage,
  DOORBELL_CLOSE,
  DOORBELL_LIVE_MS,
  DOORBELL_PING,
  DOORBELL_PONG,
  ringMessage,
} from "../protocol/doorbell";
import type { DoorbellSocket, WaitNews, Wakeup } from "./wakeup";

type Waiter = { cursor: number; resolve: (news: WaitNews | undefined) => void };

/** What the doorbell does with an open socket's traffic. */
export type SocketHandlers = { message(text: string): void; closed(): void };

/**
 * Completes the WebSocket upgrade in `request` once the route has answered (Node:
 * src/node/websocket-upgrade.ts) and hands the socket to `open`. Returns the route's answer.
 */
export type AcceptUpgrade = (
  request: Request,
  open: (socket: DoorbellSocket) => SocketHandlers,
) => Response;

/** One host's doorbell session: its boot, its socket once open, and when it was last heard. */
type Session = { bootId: string; socket: DoorbellSocket | undefined; seenAt: number };

/**
 * The Node (and test) doorbell: waiters and sockets in this process's memory. A restart forgets
 * every waiter, socket and `latest_seq`; agents reconnect, and their timed claims pick the work up.
 * Sockets exist only with `acceptUpgrade` (the Node entry passes one; tests over `app.request` do
 * not, so there `connect` is absent).
 */
export function createInProcessWakeup(acceptUpgrade?: AcceptUpgrade): Wakeup {
  const latest = new Map<string, number>();
  const waiters = new Map<string, Set<Waiter>>();
  const sessions = new Map<string, Session>();

  const wakeup: Wakeup = {
    async ring(hostId, seq) {
      const value = Math.max(seq, latest.get(hostId) ?? 0);
      latest.set(hostId, value);
      try {
        sessions.get(hostId)?.socket?.send(ringMessage(value));
      } catch {
        // A closing socket; the agent's next claim covers it.
      }
      const set = waiters.get(hostId);
      if (!set) return;
      for (const w of [...set]) {
        if (seq > w.cursor) w.resolve({ kind: "ring", seq });
      }
    },
    async cancel(hostId, itemId) {
      try {
        sessions.get(hostId)?.socket?.send(cancelMessage(itemId));
      } catch {
        // A closing socket; the agent's next renewal covers it.
      }
      for (const w of [...(waiters.get(hostId) ?? [])]) w.resolve({ kind: "cancel", itemId });
    },
    wait(hostId, cursor, timeoutMs, signal) {
      const known = latest.get(hostId);
      if (known !== undefined && known > cursor)
        return Promise.resolve({ kind: "ring", seq: known });
      return new Promise((resolve) => {
        let set = waiters.get(hostId);
        if (!set) {
          set = new Set();
          waiters.set(hostId, set);
        }
        const holder = set;
        const done = (news: WaitNews | undefined) => {
          clearTimeout(timer);
          holder.delete(waiter);
          if (holder.size === 0 && waiters.get(hostId) === holder) waiters.delete(hostId);
          resolve(news);
        };
        const waiter: Waiter = { cursor, resolve: done };
        const timer = setTimeout(() => done(undefined), timeoutMs);
        signal?.addEventListener("abort", () => done(undefined));
        holder.add(waiter);
      });
    },
  };
  if (!acceptUpgrade) return wakeup;

  wakeup.hangUp = async (hostId) => {
    const session = sessions.get(hostId);
    sessions.delete(hostId);
    try {
      // A ring first, as the Durable Object does: the agent claims on it and hears the refusal.
      session?.socket?.send(ringMessage(latest.get(hostId) ?? 0));
      session?.socket?.close(DOORBELL_CLOSE.hungUp, "host may no longer work");
    } catch {
      // Already closing.
    }
  };

  // Same session rules as the HostDoorbell Durable Object (design §2.13).
  wakeup.connect = async (request, hostId, bootId) => {
    const now = Date.now();
    const current = sessions.get(hostId);
    if (current && current.bootId !== bootId && current.seenAt > now - DOORBELL_LIVE_MS) {
      return { accepted: false, reason: "session_conflict" };
    }
    const same = current?.bootId === bootId;
    current?.socket?.close(
      same ? DOORBELL_CLOSE.replaced : DOORBELL_CLOSE.superseded,
      same ? "replaced by a newer connection" : "session taken over by another boot",
    );
    const session: Session = { bootId, socket: undefined, seenAt: now };
    sessions.set(hostId, session);
    const response = acceptUpgrade(request, (socket) => {
      // Replaced while its handshake was still under way: this one is already obsolete.
      if (sessions.get(hostId) !== session) {
        socket.close(DOORBELL_CLOSE.replaced, "replaced by a newer connection");
      }
      session.socket = socket;
      session.seenAt = Date.now();
      return {
        message(text) {
          session.seenAt = Date.now();
          if (text === DOORBELL_PING) socket.send(DOORBELL_PONG);
        },
        closed() {
          if (sessions.get(hostId) === session) sessions.delete(hostId);
        },
      };
    });
    return { accepted: true, response };
  };
  return wakeup;
}
