import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { workEvents } from "../../src/db/schema";
import { crashAfterCommit } from "../support/crash-after-commit";
import { createHarness, type Harness } from "../support/harness";
import { acceptedItem, readyHost } from "./support";

const resultEvents = (h: Harness, id: string) =>
  h.deps.db
    .select()
    .from(workEvents)
    .where(and(eq(workEvents.itemId, id), eq(workEvents.kind, "result")));

describe("an Idempotency-Key's answer commits with the work it answers", () => {
  it("a result whose process dies right after its commit is answered from the key on retry, not recorded twice", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const id = await acceptedItem(h, host);
    const init = {
      method: "POST",
      headers: {
        authorization: `Bearer ${host.token}`,
        "content-type": "application/json",
        "idempotency-key": `${id}:1:result`,
      },
      body: JSON.stringify({ lease_epoch: 1, attempt: 1, outcome: "succeeded" }),
    };
    const dying = createApp(crashAfterCommit(h.deps));
    const lost = await dying.request(`http://localhost/api/v1/agent/items/${id}/result`, init);
    expect(lost.status).toBe(500);
    // The agent retries after the in-flight window a dead request's key is held for.
    h.clock.advance(61_000);
    const retried = await h.request(`/api/v1/agent/items/${id}/result`, init);
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(await retried.json()).toEqual({ id, state: "succeeded", late: false });
    expect(await resultEvents(h, id)).toHaveLength(1);
  });

  it("progress lines whose process dies right after their commit are stored once", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const id = await acceptedItem(h, host);
    const init = {
      method: "POST",
      headers: {
        authorization: `Bearer ${host.token}`,
        "content-type": "application/json",
        "idempotency-key": `${id}:events:1`,
      },
      body: JSON.stringify({
        lease_epoch: 1,
        events: [{ kind: "progress", at: h.clock.now(), message: "copying the image" }],
      }),
    };
    const dying = createApp(crashAfterCommit(h.deps));
    expect(
      (await dying.request(`http://localhost/api/v1/agent/items/${id}/events`, init)).status,
    ).toBe(500);
    h.clock.advance(61_000);
    const retried = await h.request(`/api/v1/agent/items/${id}/events`, init);
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    const lines = await h.deps.db
      .select()
      .from(workEvents)
      .where(and(eq(workEvents.itemId, id), eq(workEvents.kind, "progress")));
    expect(lines).toHaveLength(1);
  });
});
