import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createMemoryExecutionState, createMemoryReplayJournal } from "../../agent/src/journal";
import { verifyWorkItem } from "../../agent/src/verify";
import { agentIdempotencyKeys, auditEvents, workEvents, workItems } from "../../src/db/schema";
import { ServiceError } from "../../src/domain/errors";
import { getHost } from "../../src/domain/hosts/list-hosts";
import { decideHost } from "../../src/domain/hosts/transition";
import { runPeriodicJobs } from "../../src/domain/periodic";
import { cancelWork } from "../../src/domain/work/cancel";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { IDEMPOTENCY_RETENTION_MS } from "../../src/domain/work/idempotency";
import type { ClaimResponse } from "../../src/protocol/agent-api";
import { createHarness, type Harness } from "../support/harness";
import {
  acceptedItem,
  accessToken,
  call,
  problem,
  type ReadyHost,
  readyHost,
  system,
} from "./support";

async function enqueue(h: Harness, hostId: string, n = 1, op = "host.noop") {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await enqueueWork(h.deps, {
        hostId,
        op,
        resource: { kind: "host", id: hostId, uid: hostId },
        gen: i + 1,
        createdBy: "test",
      }),
    );
  }
  return out;
}

async function claim(h: Harness, host: ReadyHost, cursor = 0, max = 10): Promise<ClaimResponse> {
  const res = await call(h, "/claim", { token: host.token, body: { cursor, max_items: max } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as ClaimResponse;
}

const item = (h: Harness, id: string) =>
  h.deps.db.query.workItems.findFirst({ where: eq(workItems.id, id) });

const result = (outcome = "succeeded") => ({ lease_epoch: 1, attempt: 1, outcome, output: {} });

describe("claim", () => {
  it("leases items in seq order, signed for this host, and the agent verifier accepts them", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [first] = await enqueue(h, host.hostId, 2);
    const claimed = await claim(h, host);
    expect(claimed.items.map((i) => i.seq)).toEqual([1, 2]);
    expect(claimed.cursor).toBe(2);
    expect(claimed.trust_version).toBe(1);
    const signer = h.deps.signer;
    if (!signer) throw new Error("no signer");
    const [one] = claimed.items;
    if (!one || !first) throw new Error("nothing claimed");
    const verified = await verifyWorkItem(one.token, {
      hostId: host.hostId,
      issuer: h.deps.config.agent.issuer,
      clock: h.clock,
      trust: signer.trustDocument(),
      journal: createMemoryReplayJournal(h.clock),
      state: createMemoryExecutionState(),
      claim: { cursor: 0, trustVersion: 1, leaseEpoch: one.lease_epoch, itemId: one.id },
    });
    expect(verified).toMatchObject({ ok: true, item: { sub: first.id, op: "host.noop", seq: 1 } });
    // Nothing left to claim; a claim above the cursor is empty.
    expect((await claim(h, host)).items).toEqual([]);
  });

  it("never gives one item to two holders, even under concurrent claims", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    await enqueue(h, host.hostId, 30);
    const responses = await Promise.all(Array.from({ length: 12 }, () => claim(h, host, 0, 4)));
    const ids = responses.flatMap((r) => r.items.map((i) => i.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(30);
  });

  it("a retried claim with the same Idempotency-Key gets the same answer, not more items", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    await enqueue(h, host.hostId, 3);
    const send = () =>
      call(h, "/claim", {
        token: host.token,
        body: { cursor: 0, max_items: 2 },
        headers: { "idempotency-key": "claim-1" },
      });
    const firstRes = await send();
    const againRes = await send();
    expect(firstRes.headers.get("idempotent-replayed")).toBeNull();
    expect(againRes.headers.get("idempotent-replayed")).toBe("true");
    const first = (await firstRes.json()) as ClaimResponse;
    const again = (await againRes.json()) as ClaimResponse;
    expect(again).toEqual(first);
    expect(first.items.map((i) => i.seq)).toEqual([1, 2]);
    expect((await claim(h, host)).items.map((i) => i.seq)).toEqual([3]);
  });

  it("an Idempotency-Key past its 7-day retention is a new request; the periodic jobs purge such keys", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    await enqueue(h, host.hostId, 1);
    const send = (token: string) =>
      call(h, "/claim", {
        token,
        body: { cursor: 0, max_items: 5 },
        headers: { "idempotency-key": "claim-old" },
      });
    const first = (await (await send(host.token)).json()) as ClaimResponse;
    expect(first.items.map((i) => i.seq)).toEqual([1]);
    h.clock.advance(IDEMPOTENCY_RETENTION_MS + 1);
    await enqueue(h, host.hostId, 1);
    const token = await accessToken(h, host.key, host.hostId);
    // Not the stored answer of a week ago: the lapsed lease of seq 1 and the new seq 2.
    const later = (await (await send(token)).json()) as ClaimResponse;
    expect(later.items.map((i) => i.seq)).toEqual([1, 2]);
    h.clock.advance(IDEMPOTENCY_RETENTION_MS + 1);
    await runPeriodicJobs(h.deps);
    expect(await h.deps.db.select().from(agentIdempotencyKeys)).toEqual([]);
  });

  it("a lapsed lease is re-offered to the same host only, with a new epoch", async () => {
    const h = await createHarness();
    const a = await readyHost(h);
    const b = await readyHost(h);
    const [queued] = await enqueue(h, a.hostId);
    if (!queued) throw new Error("no item");
    const first = await claim(h, a);
    expect(first.items[0]?.lease_epoch).toBe(1);
    h.clock.advance(31_000); // no ack within 30 s
    expect((await claim(h, b)).items).toEqual([]);
    const again = await claim(h, a);
    expect(again.items.map((i) => [i.id, i.lease_epoch])).toEqual([[queued.id, 2]]);
    expect(again.items[0]?.token).not.toBe(first.items[0]?.token);
    // The old epoch can no longer ack, renew or report.
    const path = `/items/${queued.id}`;
    await problem(
      await call(h, `${path}/ack`, {
        token: a.token,
        body: { status: "accepted", lease_epoch: 1 },
      }),
      409,
      "stale_epoch",
    );
    await problem(
      await call(h, `${path}/renew`, { token: a.token, body: { lease_epoch: 1 } }),
      409,
      "stale_epoch",
    );
    await problem(
      await call(h, `${path}/result`, {
        token: a.token,
        body: result(),
        headers: { "idempotency-key": "k1" },
      }),
      409,
      "stale_epoch",
    );
    // Another host cannot touch it at all.
    await problem(
      await call(h, `${path}/ack`, {
        token: b.token,
        body: { status: "accepted", lease_epoch: 2 },
      }),
      404,
      "not_found",
    );
  });

  it("after a lapse, the older lease's copy of a result the newer lease reported is refused: the work is recorded once", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [queued] = await enqueue(h, host.hostId);
    if (!queued) throw new Error("no item");
    await claim(h, host);
    h.clock.advance(31_000); // cut off past its lease: the agent re-claims it under epoch 2
    expect((await claim(h, host)).items.map((i) => i.lease_epoch)).toEqual([2]);
    const send = (epoch: number) =>
      call(h, `/items/${queued.id}/result`, {
        token: host.token,
        body: { ...result(), lease_epoch: epoch },
        headers: { "idempotency-key": `${queued.id}:${epoch}:result` },
      });
    expect(await (await send(2)).json()).toEqual({
      id: queued.id,
      state: "succeeded",
      late: false,
    });
    await problem(await send(1), 409, "stale_epoch");
    const results = await h.deps.db.query.workEvents.findMany({
      where: (e, { and, eq: is }) => and(is(e.itemId, queued.id), is(e.kind, "result")),
    });
    expect(results.map((e) => e.leaseEpoch)).toEqual([2]);
    expect(await item(h, queued.id)).toMatchObject({ state: "succeeded", late: false });
  });

  it("an item resumed without its ack (the agent died between journal and ack) shows as running", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [a, b] = await enqueue(h, host.hostId, 2);
    if (!a || !b) throw new Error("no items");
    await claim(h, host);
    // a: the restarted agent renews it with its step and runs it; b: its first lines arrive.
    const renew = await call(h, `/items/${a.id}/renew`, {
      token: host.token,
      body: { lease_epoch: 1, step: "resume" },
    });
    expect(renew.status).toBe(200);
    const events = await call(h, `/items/${b.id}/events`, {
      token: host.token,
      body: { lease_epoch: 1, events: [{ kind: "progress", at: 1, message: "started" }] },
      headers: { "idempotency-key": `${b.id}:1:events:1` },
    });
    expect(events.status).toBe(200);
    for (const id of [a.id, b.id]) expect((await item(h, id))?.state).toBe("running");
    // A late ack keeps it running.
    const ack = await call(h, `/items/${a.id}/ack`, {
      token: host.token,
      body: { status: "accepted", lease_epoch: 1 },
    });
    expect(await ack.json()).toMatchObject({ state: "running" });
  });

  it("an accepted item keeps its lease while renewed; renew re-leases a stalled item of the current epoch", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [queued] = await enqueue(h, host.hostId);
    if (!queued) throw new Error("no item");
    await claim(h, host);
    const path = `/items/${queued.id}`;
    const ack = await call(h, `${path}/ack`, {
      token: host.token,
      body: { status: "accepted", lease_epoch: 1 },
    });
    expect(await ack.json()).toMatchObject({ state: "accepted" });
    // A held item's renewal (`blocked`) that arrives after its ack does not say it started.
    const late = await call(h, `${path}/renew`, {
      token: host.token,
      body: { lease_epoch: 1, step: "blocked" },
    });
    expect(late.status).toBe(200);
    expect((await item(h, queued.id))?.state).toBe("accepted");
    h.clock.advance(50_000);
    const renewed = await call(h, `${path}/renew`, {
      token: host.token,
      body: { lease_epoch: 1, step: "booting" },
    });
    expect(await renewed.json()).toEqual({
      lease_expires_at: h.clock.now() + 60_000,
      cancel: false,
    });
    h.clock.advance(59_000);
    expect((await claim(h, host)).items).toEqual([]);
    h.clock.advance(2_000); // lapsed: stalled, but the same epoch may still renew
    const healed = await call(h, `${path}/renew`, { token: host.token, body: { lease_epoch: 1 } });
    expect(healed.status).toBe(200);
    expect((await item(h, queued.id))?.state).toBe("running");
  });
});

describe("ack", () => {
  it("a security rejection is final, audited and never offered again", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [queued] = await enqueue(h, host.hostId);
    if (!queued) throw new Error("no item");
    await claim(h, host);
    const res = await call(h, `/items/${queued.id}/ack`, {
      token: host.token,
      body: { status: "rejected", lease_epoch: 1, reason: "bad_signature" },
    });
    expect(await res.json()).toMatchObject({ state: "rejected" });
    h.clock.advance(10 * 60_000);
    expect((await claim(h, host)).items).toEqual([]);
    expect(await item(h, queued.id)).toMatchObject({
      state: "rejected",
      rejectReason: "bad_signature",
    });
    const audit = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "work_item.rejected_security"));
    expect(audit).toMatchObject([{ actorType: "host", actorId: host.hostId, outcome: "denied" }]);
    expect(h.logs.entries.some((e) => e.message.startsWith("security:"))).toBe(true);
  });

  it("a retryable rejection (expired) is re-signed on the next claim: same idem, new jti", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [queued] = await enqueue(h, host.hostId);
    if (!queued) throw new Error("no item");
    const first = await claim(h, host);
    await call(h, `/items/${queued.id}/ack`, {
      token: host.token,
      body: { status: "rejected", lease_epoch: 1, reason: "expired" },
    });
    const again = await claim(h, host);
    expect(again.items[0]?.lease_epoch).toBe(2);
    const payload = (t: string | undefined) =>
      JSON.parse(Buffer.from(t?.split(".")[1] ?? "", "base64url").toString());
    const [p1, p2] = [payload(first.items[0]?.token), payload(again.items[0]?.token)];
    expect(p2.idem).toBe(p1.idem);
    expect(p2.jti).not.toBe(p1.jti);
  });

  it("an unknown reason is a 422", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [queued] = await enqueue(h, host.hostId);
    await claim(h, host);
    const res = await call(h, `/items/${queued?.id}/ack`, {
      token: host.token,
      body: { status: "rejected", lease_epoch: 1, reason: "because" },
    });
    await problem(res, 422, "validation_failed");
  });
});

describe("enqueue", () => {
  it("is refused for an unknown host (404) and one that may not work (409, naming its state)", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const queue = (hostId: string) =>
      enqueueWork(h.deps, {
        hostId,
        op: "host.noop",
        resource: { kind: "host", id: hostId, uid: hostId },
        createdBy: "test",
      });
    await expect(queue("host_unknown")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await decideHost(system(h), host.hostId, "disable");
    await expect(queue(host.hostId)).rejects.toMatchObject({
      code: "CONFLICT",
      message: "Work cannot be queued for a disabled host.",
    });
    expect(await h.deps.db.select().from(workItems)).toEqual([]);
    expect(await h.deps.db.select().from(workEvents)).toEqual([]);
  });

  it("work queued while its host is being revoked never stays open: refused, or ended with the rest", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const enqueueOne = (i: number) =>
      enqueueWork(h.deps, {
        hostId: host.hostId,
        op: "host.noop",
        resource: { kind: "host", id: host.hostId, uid: `${host.hostId}-${i}` },
        createdBy: "test",
      }).then(
        () => "queued",
        (error: unknown) => {
          if (error instanceof ServiceError && error.code === "CONFLICT") return "refused";
          throw error;
        },
      );
    const revoked = decideHost(system(h), host.hostId, "revoke");
    // Spread over the revoke's reads and writes: one every few microtasks.
    const attempts: Promise<string>[] = [];
    for (let i = 0; i < 80; i++) {
      attempts.push(enqueueOne(i));
      for (let tick = 0; tick < 3; tick++) await Promise.resolve();
    }
    const [outcomes] = await Promise.all([Promise.all(attempts), revoked]);
    const items = await h.deps.db
      .select({ state: workItems.state })
      .from(workItems)
      .where(eq(workItems.hostId, host.hostId));
    expect(items).toHaveLength(outcomes.filter((o) => o === "queued").length);
    expect(items.filter((i) => i.state !== "cancelled")).toEqual([]);
    const events = await h.deps.db.select().from(workEvents);
    expect(events.filter((e) => e.kind === "enqueued")).toHaveLength(items.length);
  });
});

describe("bad input", () => {
  it("an agent POST without a JSON body gets a problem, never a 500 (a bare heartbeat is a heartbeat)", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const item = "/items/wi_00000000000000000000000000";
    const paths = ["/enroll", "/token", "/heartbeat", "/status", "/keys", "/claim"];
    for (const path of [
      ...paths,
      `${item}/ack`,
      `${item}/renew`,
      `${item}/events`,
      `${item}/result`,
    ]) {
      for (const headers of [{}, { "content-type": "text/plain" }]) {
        const res = await h.request(`/api/v1/agent${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${host.token}`, "idempotency-key": "k", ...headers },
          ...("content-type" in headers ? { body: "{}" } : {}),
        });
        const what = `${path} ${JSON.stringify(headers)}`;
        if (path === "/heartbeat" && !("content-type" in headers)) {
          expect(res.status, what).toBe(200);
          continue;
        }
        expect([400, 401, 404, 415, 422], what).toContain(res.status);
        expect(res.headers.get("content-type"), what).toContain("application/problem+json");
      }
    }
  });
});

describe("result", () => {
  it("is idempotent: a replay gets the stored answer, another body with the same key → 422", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [queued] = await enqueue(h, host.hostId);
    if (!queued) throw new Error("no item");
    await claim(h, host);
    const path = `/items/${queued.id}/result`;
    const headers = { "idempotency-key": `${queued.id}:1:result` };
    const send = (body: unknown) => call(h, path, { token: host.token, body, headers });
    const first = await send(result());
    expect(first.status).toBe(200);
    const firstBody = await first.json();
    expect(firstBody).toEqual({ id: queued.id, state: "succeeded", late: false });
    const replay = await send(result());
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual(firstBody);
    await problem(await send(result("failed")), 422, "idempotency_mismatch");
    expect(await item(h, queued.id)).toMatchObject({ state: "succeeded", outcome: "succeeded" });
    // The key is required.
    await problem(
      await call(h, path, { token: host.token, body: result() }),
      422,
      "validation_failed",
    );
  });

  it("events are stored once per key and move the item to running", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const queued = { id: await acceptedItem(h, host) };
    const body = { lease_epoch: 1, events: [{ kind: "progress", at: 1, message: "half" }] };
    const headers = { "idempotency-key": `${queued.id}:events:1` };
    for (let i = 0; i < 2; i++) {
      const res = await call(h, `/items/${queued.id}/events`, { token: host.token, body, headers });
      expect(res.status).toBe(200);
    }
    const events = await h.deps.db.query.workEvents.findMany({
      where: (e, { and, eq: is }) => and(is(e.itemId, queued.id), is(e.kind, "progress")),
    });
    expect(events).toHaveLength(1);
    expect((await item(h, queued.id))?.state).toBe("running");
  });
});

describe("cancellation and deadlines", () => {
  it("a queued item is cancelled at once; a running one learns it from renew and reports late", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [a, b] = await enqueue(h, host.hostId, 2);
    if (!a || !b) throw new Error("no items");
    await claim(h, host, 0, 1); // leases a only
    expect(
      await cancelWork({ deps: h.deps, actor: { kind: "system" }, requestId: "test" }, b.id),
    ).toEqual({ id: b.id, state: "cancelled", cancelRequested: false });
    expect(
      await cancelWork({ deps: h.deps, actor: { kind: "system" }, requestId: "test" }, a.id),
    ).toEqual({ id: a.id, state: "leased", cancelRequested: true });
    const renew = await call(h, `/items/${a.id}/renew`, {
      token: host.token,
      body: { lease_epoch: 1 },
    });
    expect(await renew.json()).toMatchObject({ cancel: true });
    const res = await call(h, `/items/${a.id}/result`, {
      token: host.token,
      body: result("cancelled"),
      headers: { "idempotency-key": "a:1:result" },
    });
    expect(await res.json()).toMatchObject({ state: "cancelled", late: false });
    expect((await claim(h, host)).items).toEqual([]);
  });

  it("a queued item past its start_by expires instead of being offered", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const queued = await enqueueWork(h.deps, {
      hostId: host.hostId,
      op: "host.noop",
      resource: { kind: "host", id: host.hostId, uid: host.hostId },
      startByMs: h.clock.now() + 60_000,
      createdBy: "test",
    });
    h.clock.advance(61_000);
    expect((await claim(h, host)).items).toEqual([]);
    expect((await item(h, queued.id))?.state).toBe("expired");
  });
});

describe("wake-up (long poll)", () => {
  it("answers at once when work exists, when work arrives, and 204 after the timeout", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const empty = await call(h, "/wait?cursor=0&timeout=0", { token: host.token });
    expect(empty.status).toBe(204);
    const waiting = call(h, "/wait?cursor=0&timeout=5", { token: host.token });
    await new Promise((r) => setTimeout(r, 50));
    await enqueue(h, host.hostId);
    const rung = await waiting;
    expect(rung.status).toBe(200);
    expect(await rung.json()).toEqual({ ring: true, latest_seq: 1 });
    const immediate = await call(h, "/wait?cursor=0&timeout=5", { token: host.token });
    expect(await immediate.json()).toEqual({ ring: true, latest_seq: 1 });
    await problem(
      await call(h, "/wait?cursor=-1&timeout=99", { token: host.token }),
      422,
      "validation_failed",
    );
  });

  it("with nothing to claim, a cursor reset to 0 waits for new work instead of answering at once", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    await acceptedItem(h, host);
    // The doorbell remembers seq 1; the agent's rescan claims from 0 and finds nothing.
    expect((await claim(h, host, 0)).cursor).toBe(0);
    const started = Date.now();
    const quiet = await call(h, "/wait?cursor=0&timeout=1", { token: host.token });
    expect(quiet.status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // New work still wakes it.
    const waiting = call(h, "/wait?cursor=0&timeout=5", { token: host.token });
    await new Promise((r) => setTimeout(r, 50));
    await enqueue(h, host.hostId);
    expect(await (await waiting).json()).toEqual({ ring: true, latest_seq: 2 });
  });

  it("answers a waiting long poll with the item when one the host holds is cancelled", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const id = await acceptedItem(h, host);
    const waiting = call(h, "/wait?cursor=1&timeout=5", { token: host.token });
    await new Promise((r) => setTimeout(r, 50));
    expect(await cancelWork(system(h), id)).toMatchObject({ cancelRequested: true });
    const told = await waiting;
    expect(told.status).toBe(200);
    expect(await told.json()).toEqual({ cancel: true, item_id: id });
    // The renewal the agent then sends is what decides.
    const renewal = await call(h, `/items/${id}/renew`, {
      token: host.token,
      body: { lease_epoch: 1 },
    });
    expect(await renewal.json()).toMatchObject({ cancel: true });
  });

  it("cancel_of: only that item's cancellation answers, at once if it came first; another host's item is a 404", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const id = await acceptedItem(h, host);
    const watch = (timeout: number, itemId = id) =>
      call(h, `/wait?cursor=0&timeout=${timeout}&cancel_of=${itemId}`, { token: host.token });
    // Neither new work nor another item's cancellation ends it.
    const other = (await enqueue(h, host.hostId))[0];
    if (!other) throw new Error("nothing queued");
    const started = Date.now();
    const quiet = watch(1);
    await new Promise((r) => setTimeout(r, 50));
    await enqueue(h, host.hostId);
    await cancelWork(system(h), other.id);
    expect((await quiet).status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // Its own does.
    const waiting = watch(5);
    await new Promise((r) => setTimeout(r, 50));
    await cancelWork(system(h), id);
    expect(await (await waiting).json()).toEqual({ cancel: true, item_id: id });
    // A poll that starts after the cancellation hears of it at once.
    const late = Date.now();
    expect(await (await watch(5)).json()).toEqual({ cancel: true, item_id: id });
    expect(Date.now() - late).toBeLessThan(1_000);

    const stranger = await readyHost(h);
    const foreign = await call(h, `/wait?cursor=0&timeout=1&cancel_of=${id}`, {
      token: stranger.token,
    });
    await problem(foreign, 404, "not_found");
    await problem(await watch(1, "not-an-item"), 422, "validation_failed");
  });
});

describe("heartbeats and health", () => {
  it("Discovering → Healthy/Warning → Unreachable at 30 s → Offline at 300 s → back on liveness", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const health = async () => (await getHost(h.deps, host.hostId))?.health;
    expect(await health()).toBe("discovering");
    const status = (s: string) =>
      call(h, "/status", {
        token: host.token,
        body: { health: s, clock_offset_ms: 3, inventory: [], capacity: { cpus: 16 } },
      });
    expect((await status("healthy")).status).toBe(200);
    expect(await health()).toBe("healthy");
    expect((await status("warning")).status).toBe(200);
    expect(await health()).toBe("warning");
    h.clock.advance(29_000);
    expect(await health()).toBe("warning");
    h.clock.advance(2_000);
    expect(await health()).toBe("unreachable");
    h.clock.advance(270_000);
    expect(await health()).toBe("offline");
    const beat = await call(h, "/heartbeat", { token: host.token, body: {} });
    expect(await beat.json()).toMatchObject({ server_time_ms: h.clock.now(), trust_version: 1 });
    expect(await health()).toBe("warning");
  });

  it("a large clock offset degrades a healthy host to warning", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    await call(h, "/status", {
      token: host.token,
      body: { health: "healthy", clock_offset_ms: 120_000 },
    });
    expect((await getHost(h.deps, host.hostId))?.health).toBe("warning");
  });
});

describe("bad input → 422 problem+json on every endpoint", () => {
  it("claim, ack, renew, events, result, heartbeat, status", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const [queued] = await enqueue(h, host.hostId);
    const t = host.token;
    const id = queued?.id ?? "";
    const key = { "idempotency-key": "k" };
    const cases: [string, unknown, Record<string, string>?][] = [
      ["/claim", { cursor: -1 }],
      ["/claim", { cursor: 0, max_items: 1000 }],
      [`/items/${id}/ack`, { status: "maybe", lease_epoch: 1 }],
      [`/items/${id}/renew`, { lease_epoch: "one" }],
      [`/items/${id}/events`, { lease_epoch: 1, events: [] }, key],
      [`/items/${id}/result`, { lease_epoch: 1, attempt: 1, outcome: "great" }, key],
      ["/items/not-an-id/result", result(), key],
      ["/heartbeat", { extra: true }],
      ["/status", { health: "fine" }],
    ];
    for (const [path, body, headers] of cases) {
      const res = await call(h, path, { token: t, body, ...(headers ? { headers } : {}) });
      await problem(res, 422, "validation_failed");
    }
    // Not JSON at all.
    const raw = await h.request("/api/v1/agent/claim", {
      method: "POST",
      headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
      body: "{",
    });
    expect(raw.status).toBe(400);
  });
});
