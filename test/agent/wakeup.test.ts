import { describe, expect, it } from "vitest";
import {
  createDurableObjectWakeup,
  type DoorbellState,
  HostDoorbell,
} from "../../src/wakeup/durable-object";
import { createInProcessWakeup } from "../../src/wakeup/in-process";
import type { Wakeup } from "../../src/wakeup/wakeup";

/**
 * The storage half of a Durable Object's state, in memory; no sockets (those need the Workers
 * runtime and are tested under Miniflare in agent-worker.test.ts).
 */
function memoryState(): DoorbellState {
  const values = new Map<string, unknown>();
  return {
    storage: {
      get: async <T>(key: string) => values.get(key) as T | undefined,
      put: async (key, value) => {
        values.set(key, value);
      },
    },
    acceptWebSocket: () => {
      throw new Error("no sockets outside Workers");
    },
    getWebSockets: () => [],
    setWebSocketAutoResponse: () => {},
    getWebSocketAutoResponseTimestamp: () => null,
  };
}

/** A namespace of real HostDoorbell objects, one per name, called through their fetch. */
function fakeNamespace() {
  const objects = new Map<string, HostDoorbell>();
  return {
    idFromName: (name: string) => name,
    get: (id: string) => {
      let obj = objects.get(id);
      if (!obj) {
        obj = new HostDoorbell(memoryState());
        objects.set(id, obj);
      }
      const target = obj;
      return {
        fetch: (input: string, init?: RequestInit) => target.fetch(new Request(input, init)),
      };
    },
  };
}

const IMPLEMENTATIONS: Record<string, () => Wakeup> = {
  "in-process": createInProcessWakeup,
  "Durable Object (HostDoorbell)": () => createDurableObjectWakeup(fakeNamespace()),
};

describe.each(Object.entries(IMPLEMENTATIONS))("wake-up: %s", (_name, make) => {
  it("a ring wakes a waiter of that host only; a known seq above the cursor answers at once", async () => {
    const wakeup = make();
    const a = wakeup.wait("host_a", 0, 5_000);
    const b = wakeup.wait("host_b", 0, 200);
    await new Promise((r) => setTimeout(r, 20));
    await wakeup.ring("host_a", 7);
    expect(await a).toEqual({ kind: "ring", seq: 7 });
    expect(await b).toBeUndefined();
    expect(await wakeup.wait("host_a", 3, 5_000)).toEqual({ kind: "ring", seq: 7 });
    expect(await wakeup.wait("host_a", 7, 50)).toBeUndefined();
  });

  it("a cancel ends that host's long polls with the item; it is not remembered like a ring", async () => {
    const wakeup = make();
    const a = wakeup.wait("host_a", 0, 5_000);
    const b = wakeup.wait("host_b", 0, 200);
    await new Promise((r) => setTimeout(r, 20));
    await wakeup.cancel?.("host_a", "wi_1");
    expect(await a).toEqual({ kind: "cancel", itemId: "wi_1" });
    expect(await b).toBeUndefined();
    // Told once: the next long poll waits for news of its own.
    expect(await wakeup.wait("host_a", 0, 50)).toBeUndefined();
  });

  it("an aborted wait ends at once", async () => {
    const wakeup = make();
    const abort = new AbortController();
    const waiting = wakeup.wait("host_a", 0, 10_000, abort.signal);
    abort.abort();
    expect(await waiting).toBeUndefined();
  });
});
