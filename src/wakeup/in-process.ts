import type { Wakeup } from "./wakeup";

type Waiter = { cursor: number; resolve: (seq: number | undefined) => void };

/**
 * The Node (and test) doorbell: waiters in this process's memory. A restart forgets every waiter
 * and `latest_seq`; agents' long polls then time out and their timed claims pick the work up.
 */
export function createInProcessWakeup(): Wakeup {
  const latest = new Map<string, number>();
  const waiters = new Map<string, Set<Waiter>>();
  return {
    async ring(hostId, seq) {
      latest.set(hostId, Math.max(seq, latest.get(hostId) ?? 0));
      const set = waiters.get(hostId);
      if (!set) return;
      for (const w of [...set]) {
        if (seq > w.cursor) {
          set.delete(w);
          w.resolve(seq);
        }
      }
    },
    wait(hostId, cursor, timeoutMs, signal) {
      const known = latest.get(hostId);
      if (known !== undefined && known > cursor) return Promise.resolve(known);
      return new Promise((resolve) => {
        let set = waiters.get(hostId);
        if (!set) {
          set = new Set();
          waiters.set(hostId, set);
        }
        const holder = set;
        const done = (seq: number | undefined) => {
          clearTimeout(timer);
          holder.delete(waiter);
          if (holder.size === 0 && waiters.get(hostId) === holder) waiters.delete(hostId);
          resolve(seq);
        };
        const waiter: Waiter = { cursor, resolve: done };
        const timer = setTimeout(() => done(undefined), timeoutMs);
        signal?.addEventListener("abort", () => done(undefined));
        holder.add(waiter);
      });
    },
  };
}
