import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hosts, workItems } from "../../src/db/schema";
import { authenticateAgent } from "../../src/domain/hosts/authenticate-agent";
import { decideHost } from "../../src/domain/hosts/transition";
import { cancelWork, settleLapsedCancellations } from "../../src/domain/work/cancel";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { recordResult } from "../../src/domain/work/record-result";
import { renewLease } from "../../src/domain/work/renew";
import { createHarness, type Harness } from "../support/harness";
import { refusalCode, secondWritesFirst } from "../support/held-writes";
import { acceptedItem, call, enrollHost, mintToken, readyHost, system } from "./support";

const row = (h: Harness, id: string) =>
  h.deps.db.query.workItems.findFirst({ where: eq(workItems.id, id) });

/**
 * An item its host claimed and accepted, whose cancellation was asked and whose lease then lapsed
 * (the periodic jobs may settle it now), with the host as an authenticated agent.
 */
async function cancelledWhileHeld() {
  const h = await createHarness();
  const host = await readyHost(h);
  const id = await acceptedItem(h, host);
  await cancelWork(system(h), id);
  h.clock.advance(61_000);
  const agent = await authenticateAgent(h.deps, `Bearer ${host.token}`, { allowPending: false });
  return { h, id, agent };
}

describe("writes that lose a race change nothing (guarded batches)", () => {
  it("a renewal read before the item's result does not bring it back: no new lease, no re-claim", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const id = await acceptedItem(h, host);
    const agent = await authenticateAgent(h.deps, `Bearer ${host.token}`, { allowPending: false });
    const { first: renewal } = await secondWritesFirst(
      h.deps,
      (deps) => renewLease(deps, agent, id, { lease_epoch: 1, step: "working" }),
      () => recordResult(h.deps, agent, id, { lease_epoch: 1, attempt: 1, outcome: "succeeded" }),
    );
    expect(await refusalCode(renewal)).toBe("conflict");
    expect(await row(h, id)).toMatchObject({ state: "succeeded", leaseExpiresAt: null });
    h.clock.advance(120_000);
    const again = await call(h, "/claim", { token: host.token, body: { cursor: 0, max_items: 5 } });
    expect(((await again.json()) as { items: unknown[] }).items).toEqual([]);
  });

  it("a renewal read before its cancellation was settled answers 410, and the item stays cancelled", async () => {
    const { h, id, agent } = await cancelledWhileHeld();
    const { first: renewal, second: settled } = await secondWritesFirst(
      h.deps,
      (deps) => renewLease(deps, agent, id, { lease_epoch: 1 }),
      () => settleLapsedCancellations(h.deps),
    );
    expect(settled).toBe(1);
    expect(await refusalCode(renewal)).toBe("item_cancelled");
    expect(await row(h, id)).toMatchObject({ state: "cancelled", leaseExpiresAt: null });
    expect(await settleLapsedCancellations(h.deps)).toBe(0);
  });

  it("a result read before its cancellation was settled is kept as late; the cancellation stands", async () => {
    const { h, id, agent } = await cancelledWhileHeld();
    const { first: result, second: settled } = await secondWritesFirst(
      h.deps,
      (deps) => recordResult(deps, agent, id, { lease_epoch: 1, attempt: 1, outcome: "succeeded" }),
      () => settleLapsedCancellations(h.deps),
    );
    expect(settled).toBe(1);
    expect(await result).toEqual({ id, state: "cancelled", late: true });
    expect(await row(h, id)).toMatchObject({
      state: "cancelled",
      outcome: "cancelled",
      late: true,
    });
  });

  it("approving a re-enrollment while another operator rejects it leaves the old host working", async () => {
    const h = await createHarness();
    const old = await readyHost(h);
    const { res } = await enrollHost(h, await mintToken(h, old.orgId));
    const { host_id: newId } = (await res.json()) as { host_id: string };
    const { first: approval } = await secondWritesFirst(
      h.deps,
      (deps) => decideHost({ ...system(h), deps }, newId, "approve"),
      () => decideHost(system(h), newId, "reject"),
    );
    expect(await refusalCode(approval)).toBe("CONFLICT");
    const states = await h.deps.db.select({ id: hosts.id, state: hosts.state }).from(hosts);
    expect(states).toEqual(
      expect.arrayContaining([
        { id: old.hostId, state: "approved" },
        { id: newId, state: "rejected" },
      ]),
    );
  });

  it("a result or ack for an item no claim handed out is refused (409), and it stays queued", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const { id } = await enqueueWork(h.deps, {
      hostId: host.hostId,
      op: "host.noop",
      resource: { kind: "host", id: host.hostId, uid: host.hostId },
      createdBy: "test",
    });
    const result = await call(h, `/items/${id}/result`, {
      token: host.token,
      headers: { "idempotency-key": "never-claimed" },
      body: { lease_epoch: 0, attempt: 1, outcome: "succeeded" },
    });
    expect(result.status).toBe(409);
    expect(((await result.json()) as { code: string }).code).toBe("conflict");
    const ack = await call(h, `/items/${id}/ack`, {
      token: host.token,
      body: { status: "accepted", lease_epoch: 0 },
    });
    expect(ack.status).toBe(409);
    expect(await row(h, id)).toMatchObject({ state: "queued", leaseExpiresAt: null });
  });
});
