import { and, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { operations, vms, workItems } from "../../src/db/schema";
import { changeVmState } from "../../src/domain/vms/change-state";
import { createVm } from "../../src/domain/vms/create-vm";
import { idempotency } from "../../src/domain/vms/operations";
import { resizeVm } from "../../src/domain/vms/resize-vm";
import { CreateVmInput } from "../../src/domain/vms/schemas";
import { hostReports, vmFleet } from "../support/fleet";
import { refusalCode, secondWritesFirst } from "../support/held-writes";
import { actingAs, okJson } from "../tenancy/fixtures";

/** A running VM its host reported, and the member who made it, as a service context. */
async function runningVm() {
  const fleet = await vmFleet();
  const { h, t, imageId } = fleet;
  const created = await okJson<{ vm: { id: string } }>(
    await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "web-1", imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
    }),
    202,
  );
  await hostReports(h, created.vm.id);
  const member = actingAs(h, t.member);
  const openOps = async () =>
    h.deps.db
      .select({ kind: operations.kind })
      .from(operations)
      .where(
        and(
          eq(operations.targetId, created.vm.id),
          inArray(operations.status, ["pending", "running"]),
        ),
      );
  const items = async () =>
    h.deps.db
      .select({ op: workItems.op, gen: workItems.gen })
      .from(workItems)
      .where(eq(workItems.resourceId, created.vm.id));
  return { ...fleet, vmId: created.vm.id, member, openOps, items };
}

describe("two lifecycle requests on one VM at once", () => {
  it("a stop read before a delete committed changes nothing and answers 409 from what the delete left", async () => {
    const { h, vmId, member, openOps, items } = await runningVm();
    const before = (await items()).length;
    const { first: stop } = await secondWritesFirst(
      h.deps,
      (deps) => changeVmState({ ...member, deps }, vmId, "stop", null),
      () => changeVmState(member, vmId, "delete", null),
    );
    // Made again on the VM the delete left: it is deleting now.
    expect(await refusalCode(stop)).toBe("invalid_state");
    expect(await openOps()).toEqual([{ kind: "vm.delete" }]);
    const [vm] = await h.deps.db.select().from(vms).where(eq(vms.id, vmId));
    expect(vm).toMatchObject({ desiredState: "deleted", observedState: "deleting" });
    // One new item, the delete's, with a generation of its own.
    const added = (await items()).slice(before);
    expect(added).toEqual([{ op: "vm.delete", gen: vm?.generation ?? 0 }]);
  });

  it("the same Idempotency-Key sent twice at once gets the first's operation, not a 500", async () => {
    const { h, t, vmId, member, openOps } = await runningVm();
    await okJson(await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }), 202);
    await hostReports(h, vmId); // a resize needs a stopped VM
    const key = await idempotency("resize-1", { vmId, diskGb: 20 });
    const { first, second } = await secondWritesFirst(
      h.deps,
      (deps) => resizeVm({ ...member, deps }, vmId, { diskGb: 20 }, key),
      () => resizeVm(member, vmId, { diskGb: 20 }, key),
    );
    const answered = await first;
    expect(answered.replay).toBe(true);
    expect(answered.operation.id).toBe(second.operation.id);
    expect(await openOps()).toEqual([{ kind: "vm.resize" }]);
  });

  /**
   * VM "a" is read (quota, placement) before VM "b" commits, and commits after it. Returns how
   * "a" was answered.
   */
  async function createsAtOnce(
    fleet: Awaited<ReturnType<typeof vmFleet>>,
    vcpus: number,
  ): Promise<string> {
    const { h, t, imageId } = fleet;
    const member = actingAs(h, t.member);
    const spec = CreateVmInput.parse({ name: "x", imageId, vcpus, memoryMb: 1024, diskGb: 10 });
    const { first } = await secondWritesFirst(
      h.deps,
      (deps) => createVm({ ...member, deps }, t.project.id, { ...spec, name: "a" }, null),
      () => createVm(member, t.project.id, { ...spec, name: "b" }, null),
    );
    return refusalCode(first);
  }

  it("two creates at once never overbook: the project's last VM slot goes to one of them", async () => {
    const fleet = await vmFleet();
    const { h, t } = fleet;
    await okJson(
      await t.admin.request(`/api/v1/projects/${t.project.id}/quota`, {
        method: "PUT",
        json: { maxVms: 1, maxVcpus: 64, maxMemoryMb: 131_072, maxDiskGb: 2000 },
      }),
    );
    expect(await createsAtOnce(fleet, 1)).toBe("no_capacity");
    const names = await h.deps.db.select({ name: vms.name }).from(vms);
    expect(names).toEqual([{ name: "b" }]);
  });

  it("two creates at once never overbook a host: the second goes elsewhere or is refused", async () => {
    // One host with 8 vCPUs (no overcommit): two 6-vCPU VMs cannot both be on it.
    const fleet = await vmFleet({
      config: { placement: { strategy: "spread", cpuOvercommit: 1, memoryOvercommit: 1 } },
    });
    expect(await createsAtOnce(fleet, 6)).toBe("no_capacity");
    const placed = await fleet.h.deps.db
      .select({ vcpus: vms.vcpus })
      .from(vms)
      .where(eq(vms.hostId, fleet.hostId));
    expect(placed).toEqual([{ vcpus: 6 }]);
  });
});
