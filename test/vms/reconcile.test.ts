import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, hosts, operations, vms, workItems } from "../../src/db/schema";
import { dispatch } from "../../src/domain/vms/dispatch";
import { applyInventory } from "../../src/domain/vms/inventory";
import { reconcile } from "../../src/domain/vms/reconcile";
import { hostReports, vmFleet } from "../support/fleet";
import type { Harness } from "../support/harness";
import { okJson } from "../tenancy/fixtures";

type Accepted = { vm: { id: string }; operation: { id: string } };

async function runningVm() {
  const { h, t, hostId, imageId } = await vmFleet();
  const created = await okJson<Accepted>(
    await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "db-1", imageId, vcpus: 1, memoryMb: 1024, diskGb: 5 },
    }),
    202,
  );
  return { h, t, hostId, vmId: created.vm.id, operationId: created.operation.id };
}

const vmState = async (h: Harness, id: string) =>
  (await h.deps.db.select().from(vms).where(eq(vms.id, id)))[0]?.observedState;

describe("VM reconciler", () => {
  it("dispatches an operation whose work item never got queued", async () => {
    const { h, vmId, operationId } = await runningVm();
    await h.deps.db.delete(workItems).where(eq(workItems.idem, operationId));
    expect(await reconcile(h.deps)).toMatchObject({ dispatched: 1 });
    const items = await h.deps.db.select().from(workItems).where(eq(workItems.resourceId, vmId));
    expect(items.map((i) => i.idem)).toEqual([operationId]);
    // Running it again changes nothing.
    expect(await reconcile(h.deps)).toMatchObject({ dispatched: 0 });
  });

  it("dispatch queues one item for an operation however many run at once, and none once it ended", async () => {
    const { h, vmId, operationId } = await runningVm();
    await h.deps.db.delete(workItems).where(eq(workItems.idem, operationId));
    const [vm] = await h.deps.db.select().from(vms).where(eq(vms.id, vmId));
    if (!vm) throw new Error("no VM");
    const queued = await Promise.all([
      dispatch(h.deps, operationId, "vm.create", vm),
      dispatch(h.deps, operationId, "vm.create", vm),
      reconcile(h.deps),
    ]);
    expect(queued.slice(0, 2).filter(Boolean).length).toBeLessThanOrEqual(1);
    const items = () => h.deps.db.select().from(workItems).where(eq(workItems.idem, operationId));
    expect(await items()).toHaveLength(1);
    // Ended (cancelled, say) while a reconciler run still had it as open: nothing more is queued.
    await h.deps.db.delete(workItems).where(eq(workItems.idem, operationId));
    await h.deps.db
      .update(operations)
      .set({ status: "cancelled" })
      .where(eq(operations.id, operationId));
    expect(await dispatch(h.deps, operationId, "vm.create", vm)).toBe(false);
    expect(await items()).toEqual([]);
  });

  it("fails an operation whose work expired long ago, with a hint", async () => {
    const { h, operationId } = await runningVm();
    await h.deps.db
      .update(workItems)
      .set({ state: "expired" })
      .where(eq(workItems.idem, operationId));
    h.clock.advance(16 * 60_000);
    await h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() });
    expect(await reconcile(h.deps)).toMatchObject({ failed: 1 });
    const [op] = await h.deps.db.select().from(operations).where(eq(operations.id, operationId));
    expect(op).toMatchObject({ status: "failed", errorCode: "host_did_not_run" });
  });

  it("an operation its host never takes (disabled after the VM was placed) is answered 202, then fails in time with the VM as last reported", async () => {
    const { h, t, hostId, vmId } = await runningVm();
    await hostReports(h, vmId);
    await h.deps.db
      .update(hosts)
      .set({ state: "disabled", status: { inventory: [{ id: vmId, state: "running" }] } })
      .where(eq(hosts.id, hostId));
    // Nothing can be queued for the host: the request still commits its operation and says so.
    const stop = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }),
      202,
    );
    expect(await vmState(h, vmId)).toBe("stopping");
    const opRow = async () =>
      (await h.deps.db.select().from(operations).where(eq(operations.id, stop.operation.id)))[0];
    expect(await opRow()).toMatchObject({ status: "pending" });
    h.clock.advance(16 * 60_000);
    await h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() });
    expect(await reconcile(h.deps)).toMatchObject({ failed: 1 });
    expect(await opRow()).toMatchObject({ status: "failed", errorCode: "host_did_not_run" });
    expect(await vmState(h, vmId)).toBe("running");
  });

  it("a queued item its host never claims expires at its deadline; the operation then fails in time", async () => {
    const { h, t, hostId, vmId } = await runningVm();
    await hostReports(h, vmId);
    await h.deps.db
      .update(hosts)
      .set({ status: { inventory: [{ id: vmId, state: "running" }] } })
      .where(eq(hosts.id, hostId));
    const restart = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/restart`, { method: "POST" }),
      202,
    );
    const item = async () =>
      (await h.deps.db.select().from(workItems).where(eq(workItems.idem, restart.operation.id)))[0];
    expect(await item()).toMatchObject({ state: "queued" });
    // Past the item's start window (10 min), with the host silent but not yet counted lost.
    h.clock.advance(11 * 60_000);
    await h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() });
    await reconcile(h.deps);
    // Expired, then queued afresh for the same operation (it is young enough).
    expect(await item()).toMatchObject({ state: "queued" });
    h.clock.advance(11 * 60_000);
    await h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() });
    expect(await reconcile(h.deps)).toMatchObject({ failed: 1 });
    expect(await item()).toMatchObject({ state: "expired" });
    const [op] = await h.deps.db
      .select()
      .from(operations)
      .where(eq(operations.id, restart.operation.id));
    expect(op).toMatchObject({ status: "failed", errorCode: "host_did_not_run" });
    expect(await vmState(h, vmId)).toBe("running");
  });

  it("marks VMs unknown while their host is unreachable, never moving them, and restores them", async () => {
    const { h, hostId, vmId } = await runningVm();
    await hostReports(h, vmId);
    expect(await vmState(h, vmId)).toBe("running");
    h.clock.advance(31_000);
    expect(await reconcile(h.deps)).toMatchObject({ markedUnknown: 1 });
    const [vm] = await h.deps.db.select().from(vms).where(eq(vms.id, vmId));
    expect(vm).toMatchObject({ observedState: "unknown", hostId });
    await h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() }).where(eq(hosts.id, hostId));
    expect(await reconcile(h.deps)).toMatchObject({ recovered: 1 });
    expect(await vmState(h, vmId)).toBe("running");
  });

  it("a VM in error before its host was unreachable is an error again when the host is back, not running", async () => {
    const { h, hostId, vmId } = await runningVm();
    await hostReports(h, vmId, "failed");
    expect(await vmState(h, vmId)).toBe("error");
    h.clock.advance(31_000);
    expect(await reconcile(h.deps)).toMatchObject({ markedUnknown: 1 });
    await h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() }).where(eq(hosts.id, hostId));
    expect(await reconcile(h.deps)).toMatchObject({ recovered: 1 });
    expect(await vmState(h, vmId)).toBe("error");
  });

  it("applies a host's inventory: state changes with reasons, unknown VMs reported, lost VMs flagged", async () => {
    const { h, hostId, vmId } = await runningVm();
    await hostReports(h, vmId);
    await applyInventory(h.deps, hostId, [
      { id: vmId, state: "stopped", reason: "VMM exited: guest panic" },
      { id: "vm_stranger", state: "running" },
    ]);
    const [vm] = await h.deps.db.select().from(vms).where(eq(vms.id, vmId));
    expect(vm).toMatchObject({ observedState: "stopped", stateReason: "VMM exited: guest panic" });
    const unknown = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "host.unknown_vm"));
    expect(unknown).toEqual([
      expect.objectContaining({ actorType: "host", actorId: hostId, targetId: hostId }),
    ]);
    // Left alone: nothing deletes a VM the database does not know.
    await applyInventory(h.deps, hostId, []);
    expect(await vmState(h, vmId)).toBe("error");
    const lost = await h.deps.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "vm.lost"), eq(auditEvents.targetId, vmId)));
    expect(lost).toHaveLength(1);
  });
});
