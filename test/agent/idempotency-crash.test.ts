import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { workEvents } from "../../src/db/schema";
import { crashAfterCommit } from "../support/crash-after-commit";
import { createHarness, type Harness } from "../support/harness";
import { acceptedItem, readyHost } from "./support";

const stored = (h: Harness, id: string, kind: "result" | "progress") =>
  h.deps.db
    .select()
    .from(workEvents)
    .where(and(eq(workEvents.itemId, id), eq(workEvents.kind, kind)));

/**
 * An accepted item; the agent's POST to `items/{id}/{path}` reaches a control plane that dies
 * right after its commit (the agent sees the request cut), then, after the in-flight window a dead
 * request's key is held for, the same request again to a healthy one. Returns the retry's answer.
 */
async function crashThenRetry(
  path: "result" | "events",
  key: (id: string) => string,
  body: (h: Harness) => unknown,
): Promise<{ h: Harness; id: string; retried: Response }> {
  const h = await createHarness();
  const host = await readyHost(h);
  const id = await acceptedItem(h, host);
  const init = {
    method: "POST",
    headers: {
      authorization: `Bearer ${host.token}`,
      "content-type": "application/json",
      "idempotency-key": key(id),
    },
    body: JSON.stringify(body(h)),
  };
  const url = `/api/v1/agent/items/${id}/${path}`;
  const dying = createApp(crashAfterCommit(h.deps));
  expect((await dying.request(`http://localhost${url}`, init)).status).toBe(500);
  h.clock.advance(61_000);
  return { h, id, retried: await h.request(url, init) };
}

describe("an Idempotency-Key's answer commits with the work it answers", () => {
  it("a result whose process dies right after its commit is answered from the key on retry, not recorded twice", async () => {
    const { h, id, retried } = await crashThenRetry(
      "result",
      (id) => `${id}:1:result`,
      () => ({ lease_epoch: 1, attempt: 1, outcome: "succeeded" }),
    );
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(await retried.json()).toEqual({ id, state: "succeeded", late: false });
    expect(await stored(h, id, "result")).toHaveLength(1);
  });

  it("progress lines whose process dies right after their commit are stored once", async () => {
    const { h, id, retried } = await crashThenRetry(
      "events",
      (id) => `${id}:events:1`,
      (h) => ({
        lease_epoch: 1,
        events: [{ kind: "progress", at: h.clock.now(), message: "copying the image" }],
      }),
    );
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(await stored(h, id, "progress")).toHaveLength(1);
  });
});
