import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, hosts, operations, vms, workEvents, workItems } from "../../src/db/schema";
import { decideHost } from "../../src/domain/hosts/transition";
import { runPeriodicJobs } from "../../src/domain/periodic";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { hostReports, vmFleet } from "../support/fleet";
import type { Harness } from "../support/harness";
import { expectInvalid, expectProblem, okJson, type Team } from "../tenancy/fixtures";
import { accessToken, call, enrollHost, mintToken, system } from "./support";

type WorkItem = {
  id: string;
  op: string;
  resourceKind: string;
  resourceId: string;
  state: string;
  outcome: string | null;
  cancelRequested: boolean;
};
type Accepted = { vm: { id: string; observedState: string }; operation: { id: string } };

const cancelPath = (hostId: string, itemId: string) =>
  `/api/v1/hosts/${hostId}/work-items/${itemId}/cancel`;

async function createVm(t: Team, imageId: string, name: string): Promise<Accepted> {
  return okJson<Accepted>(
    await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name, imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
    }),
    202,
  );
}

type WorkPage = { items: WorkItem[]; nextCursor: string | null };

async function pageOf(t: Team, hostId: string, query = ""): Promise<WorkPage> {
  return okJson<WorkPage>(await t.viewer.request(`/api/v1/hosts/${hostId}/work-items${query}`));
}

async function workOf(t: Team, hostId: string, query = ""): Promise<WorkItem[]> {
  return (await pageOf(t, hostId, query)).items;
}

async function operationOf(h: Harness, id: string) {
  const [op] = await h.deps.db.select().from(operations).where(eq(operations.id, id));
  return op;
}

async function vmOf(h: Harness, id: string) {
  const [vm] = await h.deps.db.select().from(vms).where(eq(vms.id, id));
  return vm;
}

/** A host of the team's organization that enrolled through the agent API, with its token. */
async function agentHost(h: Harness, t: Team) {
  const { res, key } = await enrollHost(h, await mintToken(h, t.org.id));
  const { host_id: hostId } = (await res.json()) as { host_id: string };
  await decideHost(system(h), hostId, "approve");
  return { hostId, key, token: await accessToken(h, key, hostId) };
}

/** A host-level item (no resource effects) queued for the host. */
function hostItem(h: Harness, hostId: string, op = "host.noop", params?: Record<string, unknown>) {
  return enqueueWork(h.deps, {
    hostId,
    op,
    ...(params ? { params } : {}),
    resource: { kind: "host", id: hostId, uid: hostId },
    createdBy: "test",
  });
}

const claimAll = (h: Harness, token: string) =>
  call(h, "/claim", { token, body: { cursor: 0, max_items: 10 } });

describe("a host's work items: list and cancel (/api/v1/hosts/{hostId}/work-items)", () => {
  it("lists the host's work newest first, a page at a time, to whoever may view the host", async () => {
    const { t, hostId, imageId } = await vmFleet();
    const first = await createVm(t, imageId, "web-1");
    const second = await createVm(t, imageId, "web-2");
    const items = await workOf(t, hostId);
    expect(items).toMatchObject([
      { op: "vm.create", resourceId: second.vm.id, state: "queued", cancelRequested: false },
      { op: "vm.create", resourceId: first.vm.id, state: "queued", outcome: null },
    ]);
    // A page at a time, newest first; and by state.
    const third = await createVm(t, imageId, "web-3");
    const firstPage = await pageOf(t, hostId, "?limit=2");
    expect(firstPage.items.map((i) => i.resourceId)).toEqual([third.vm.id, second.vm.id]);
    expect(firstPage.nextCursor).not.toBeNull();
    const rest = await pageOf(t, hostId, `?limit=2&cursor=${firstPage.nextCursor}`);
    expect(rest).toMatchObject({ items: [{ resourceId: first.vm.id }], nextCursor: null });
    const [newest] = firstPage.items;
    if (!newest) throw new Error("no item");
    await okJson(await t.admin.request(cancelPath(hostId, newest.id), { method: "POST" }));
    expect((await workOf(t, hostId, "?state=cancelled")).map((i) => i.id)).toEqual([newest.id]);
    expect(await workOf(t, hostId, "?state=queued")).toHaveLength(2);
    for (const [query, field] of [
      ["limit=0", "limit"],
      ["cursor=abc", "cursor"],
      ["state=nope", "state"],
    ] as const) {
      await expectInvalid(
        await t.viewer.request(`/api/v1/hosts/${hostId}/work-items?${query}`),
        field,
        "query",
      );
    }
    await expectProblem(
      await t.outsider.request(`/api/v1/hosts/${hostId}/work-items`),
      404,
      "not_found",
    );
  });

  it("a queued create ends at once: item and operation cancelled, the VM an error to delete", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const { vm, operation } = await createVm(t, imageId, "web-1");
    const [item] = await workOf(t, hostId);
    if (!item) throw new Error("no work item");

    // Members run VMs, not hosts: they may see the item but not cancel it.
    await expectProblem(
      await t.member.request(cancelPath(hostId, item.id), { method: "POST" }),
      403,
      "forbidden",
    );
    const cancelled = await okJson<WorkItem>(
      await t.admin.request(cancelPath(hostId, item.id), { method: "POST" }),
    );
    expect(cancelled).toMatchObject({
      id: item.id,
      state: "cancelled",
      outcome: "cancelled",
      cancelRequested: false,
    });
    expect(await operationOf(h, operation.id)).toMatchObject({
      status: "cancelled",
      errorCode: "cancelled",
    });
    expect(await vmOf(h, vm.id)).toMatchObject({ observedState: "error" });
    // Again: nothing changes, nothing fails.
    expect(
      await okJson<WorkItem>(
        await t.admin.request(cancelPath(hostId, item.id), { method: "POST" }),
      ),
    ).toMatchObject({ state: "cancelled" });
    const audit = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.targetId, item.id));
    expect(audit.map((a) => [a.action, a.outcome])).toEqual([
      ["work_item.cancel", "denied"],
      ["work_item.cancel", "success"],
    ]);
    // The VM never existed on the host: it can be deleted, which frees its name.
    await okJson(await t.member.request(`/api/v1/vms/${vm.id}`, { method: "DELETE" }), 202);
    await hostReports(h, vm.id);
    await createVm(t, imageId, "web-1");
  });

  it("an item's log leaves out its parameters: a VM's user data may hold secrets", async () => {
    const { t, hostId, imageId } = await vmFleet();
    const created = await okJson<Accepted>(
      await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
        method: "POST",
        json: {
          name: "web-1",
          imageId,
          vcpus: 1,
          memoryMb: 1024,
          diskGb: 10,
          userData: "#cloud-config\npassword: hunter2-secret\n",
        },
      }),
      202,
    );
    const [item] = await workOf(t, hostId);
    if (item?.resourceId !== created.vm.id) throw new Error("no create item");
    const log = await t.admin.request(`/api/v1/hosts/${hostId}/work-items/${item.id}`);
    const body = await log.text();
    expect(log.status, body).toBe(200);
    expect(body).toContain("vm.create");
    expect(body).not.toContain("hunter2-secret");
    expect(body).not.toContain('"params"');
  });

  it("a queued stop ends with the VM as its host last reported it, not `stopping`", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const { vm } = await createVm(t, imageId, "web-1");
    await hostReports(h, vm.id);
    await h.deps.db
      .update(hosts)
      .set({ status: { inventory: [{ id: vm.id, state: "running" }] } })
      .where(eq(hosts.id, hostId));
    const stop = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vm.id}/stop`, { method: "POST" }),
      202,
    );
    expect(stop.vm.observedState).toBe("stopping");
    const [item] = await workOf(t, hostId);
    if (item?.op !== "vm.stop") throw new Error("no stop item");
    await okJson(await t.owner.request(cancelPath(hostId, item.id), { method: "POST" }));
    expect(await vmOf(h, vm.id)).toMatchObject({ observedState: "running" });
    expect(await operationOf(h, stop.operation.id)).toMatchObject({ status: "cancelled" });
  });

  it("an item the host holds is flagged: the host learns it from renew and reports cancelled", async () => {
    const { h, t } = await vmFleet();
    const host = await agentHost(h, t);
    const queued = await hostItem(h, host.hostId, "host.sleep", { ms: 60_000 });
    expect((await claimAll(h, host.token)).status).toBe(200);
    const ack = await call(h, `/items/${queued.id}/ack`, {
      token: host.token,
      body: { status: "accepted", lease_epoch: 1 },
    });
    expect(ack.status, await ack.clone().text()).toBe(200);

    const flagged = await okJson<WorkItem>(
      await t.admin.request(cancelPath(host.hostId, queued.id), { method: "POST" }),
    );
    expect(flagged).toMatchObject({ state: "accepted", cancelRequested: true, outcome: null });
    expect(await workOf(t, host.hostId)).toMatchObject([{ id: queued.id, cancelRequested: true }]);
    const renew = await call(h, `/items/${queued.id}/renew`, {
      token: host.token,
      body: { lease_epoch: 1, step: "sleeping" },
    });
    expect(await renew.json()).toMatchObject({ cancel: true });
    const result = await call(h, `/items/${queued.id}/result`, {
      token: host.token,
      body: { lease_epoch: 1, attempt: 1, outcome: "cancelled" },
      headers: { "idempotency-key": `${queued.id}:1:result` },
    });
    expect(result.status, await result.clone().text()).toBe(200);
    expect(await workOf(t, host.hostId)).toMatchObject([
      { id: queued.id, state: "cancelled", outcome: "cancelled", cancelRequested: false },
    ]);

    // Its log, oldest first, for whoever may view the host.
    const log = await okJson<{ events: { kind: string; detail: Record<string, unknown> }[] }>(
      await t.viewer.request(`/api/v1/hosts/${host.hostId}/work-items/${queued.id}`),
    );
    expect(log).toMatchObject({
      id: queued.id,
      op: "host.sleep",
      state: "cancelled",
      attempt: 1,
      leaseEpoch: 1,
      result: { outcome: "cancelled" },
    });
    expect(log.events.map((e) => e.kind)).toEqual([
      "enqueued",
      "claimed",
      "accepted",
      "cancel_requested",
      "renewed",
      "result",
    ]);
    expect(log.events[4]?.detail).toEqual({ step: "sleeping" });
    await expectProblem(
      await t.outsider.request(`/api/v1/hosts/${host.hostId}/work-items/${queued.id}`),
      404,
      "not_found",
    );
    await expectInvalid(
      await t.viewer.request(`/api/v1/hosts/${host.hostId}/work-items/nope`),
      "itemId",
      "path",
    );
  });

  it("an item whose lease lapsed ends at once; a host that comes back is told it was cancelled", async () => {
    const { h, t } = await vmFleet();
    const host = await agentHost(h, t);
    const queued = await hostItem(h, host.hostId);
    await claimAll(h, host.token);
    h.clock.advance(h.deps.config.agent.ackWindowMs + 1);
    expect(
      await okJson<WorkItem>(
        await t.admin.request(cancelPath(host.hostId, queued.id), { method: "POST" }),
      ),
    ).toMatchObject({ state: "cancelled", cancelRequested: false });
    const renew = await call(h, `/items/${queued.id}/renew`, {
      token: await accessToken(h, host.key, host.hostId),
      body: { lease_epoch: 1 },
    });
    await expectProblem(renew, 410, "item_cancelled");
  });

  it("a cancellation the host never confirms ends when its lease lapses: asked again, or in the periodic jobs", async () => {
    const { h, t } = await vmFleet();
    const host = await agentHost(h, t);
    const asked = await hostItem(h, host.hostId, "host.sleep", { ms: 60_000 });
    const swept = await hostItem(h, host.hostId, "host.sleep", { ms: 60_000 });
    await claimAll(h, host.token);
    for (const item of [asked, swept]) {
      expect(
        await okJson<WorkItem>(
          await t.admin.request(cancelPath(host.hostId, item.id), { method: "POST" }),
        ),
      ).toMatchObject({ state: "leased", cancelRequested: true });
    }
    // The host went away: nothing renews, nothing claims.
    h.clock.advance(h.deps.config.agent.ackWindowMs + 1);
    expect(
      await okJson<WorkItem>(
        await t.admin.request(cancelPath(host.hostId, asked.id), { method: "POST" }),
      ),
    ).toMatchObject({ state: "cancelled", cancelRequested: false });
    expect((await workOf(t, host.hostId)).find((w) => w.id === swept.id)).toMatchObject({
      state: "leased",
      cancelRequested: true,
    });
    await runPeriodicJobs(h.deps);
    expect((await workOf(t, host.hostId)).find((w) => w.id === swept.id)).toMatchObject({
      state: "cancelled",
      outcome: "cancelled",
      cancelRequested: false,
    });
    const events = await h.deps.db.select().from(workEvents).where(eq(workEvents.itemId, swept.id));
    expect(events.map((e) => e.kind)).toEqual([
      "enqueued",
      "claimed",
      "cancel_requested",
      "expired",
    ]);
    // The host comes back: its renew says the item was cancelled.
    const renew = await call(h, `/items/${swept.id}/renew`, {
      token: await accessToken(h, host.key, host.hostId),
      body: { lease_epoch: 1 },
    });
    await expectProblem(renew, 410, "item_cancelled");
  });

  it("a queued item's cancellation left half done (the control plane stopped) ends in the periodic jobs, not at its deadline", async () => {
    const { h, t } = await vmFleet();
    const host = await agentHost(h, t);
    const item = await hostItem(h, host.hostId);
    // What the first step of a cancellation writes, and nothing after it.
    await h.deps.db
      .update(workItems)
      .set({ cancelRequestedAt: h.clock.now() })
      .where(eq(workItems.id, item.id));
    h.clock.advance(16 * 60_000); // past the item's start_by
    const token = await accessToken(h, host.key, host.hostId);
    const claimed = await okJson<{ items: unknown[] }>(await claimAll(h, token));
    expect(claimed.items).toEqual([]);
    expect((await workOf(t, host.hostId))[0]).toMatchObject({ id: item.id, state: "queued" });
    await runPeriodicJobs(h.deps);
    expect((await workOf(t, host.hostId))[0]).toMatchObject({
      id: item.id,
      state: "cancelled",
      cancelRequested: false,
    });
  });

  it("refuses finished items, malformed ids and other hosts' items with clear problems", async () => {
    const { h, t } = await vmFleet();
    const { hostId, token } = await agentHost(h, t);
    const done = await hostItem(h, hostId);
    await claimAll(h, token);
    await call(h, `/items/${done.id}/ack`, { token, body: { status: "accepted", lease_epoch: 1 } });
    const reported = await call(h, `/items/${done.id}/result`, {
      token,
      body: { lease_epoch: 1, attempt: 1, outcome: "succeeded" },
      headers: { "idempotency-key": `${done.id}:1:result` },
    });
    expect(reported.status, await reported.clone().text()).toBe(200);
    const finished = await expectProblem(
      await t.admin.request(cancelPath(hostId, done.id), { method: "POST" }),
      409,
      "already_finished",
    );
    expect(finished.detail).toContain("succeeded");
    await expectInvalid(
      await t.admin.request(cancelPath(hostId, "wi_nope"), { method: "POST" }),
      "itemId",
      "path",
    );
    await expectProblem(
      await t.admin.request(cancelPath(hostId, `wi_${"0".repeat(26)}`), { method: "POST" }),
      404,
      "not_found",
    );
    const other = await agentHost(h, t);
    await expectProblem(
      await t.admin.request(cancelPath(other.hostId, done.id), { method: "POST" }),
      404,
      "not_found",
    );
    await expectProblem(
      await t.outsider.request(cancelPath(hostId, done.id), { method: "POST" }),
      404,
      "not_found",
    );
    const anonymous = await h.request(cancelPath(hostId, done.id), { method: "POST" });
    expect([401, 403]).toContain(anonymous.status);
    expect(anonymous.headers.get("content-type")).toBe("application/problem+json");
  });
});
