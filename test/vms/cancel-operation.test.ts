import { and, eq, notInArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, hosts, TERMINAL_WORK_STATES, vms, workItems } from "../../src/db/schema";
import { SHUT_OUT_PAGE } from "../../src/domain/hosts/shut-out";
import { runPeriodicJobs } from "../../src/domain/periodic";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { recordResult } from "../../src/domain/work/record-result";
import { hostReports, vmFleet } from "../support/fleet";
import type { Harness } from "../support/harness";
import { expectProblem, okJson, type Team } from "../tenancy/fixtures";

type Op = { id: string; kind: string; status: string; error: { code: string } | null };
type Accepted = { vm: { id: string; observedState: string }; operation: Op };

async function createVm(t: Team, imageId: string, name = "web-1"): Promise<Accepted> {
  return okJson<Accepted>(
    await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name, imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
    }),
    202,
  );
}

/** A running VM its host has reported in its last status. */
async function runningVm(h: Harness, t: Team, hostId: string, imageId: string): Promise<string> {
  const { vm } = await createVm(t, imageId);
  await hostReports(h, vm.id);
  await inventoryHas(h, hostId, vm.id, "running");
  return vm.id;
}

/** The host's last status report lists the VM in this state, at its created size. */
async function inventoryHas(h: Harness, hostId: string, vmId: string, state: string) {
  await h.deps.db
    .update(hosts)
    .set({ status: { inventory: [{ id: vmId, state, vcpus: 1, memoryMb: 1024, diskGb: 10 }] } })
    .where(eq(hosts.id, hostId));
}

const cancel = (t: Team, opId: string, who: keyof Team = "member") =>
  (t[who] as Team["member"]).request(`/api/v1/operations/${opId}/cancel`, { method: "POST" });

async function vmRow(h: Harness, id: string) {
  const [row] = await h.deps.db.select().from(vms).where(eq(vms.id, id));
  return row;
}

describe("POST /api/v1/operations/{id}/cancel", () => {
  it("a stop its host has not started ends at once; the VM stays running, and is meant to", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    const stop = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }),
      202,
    );
    expect(await vmRow(h, vmId)).toMatchObject({
      observedState: "stopping",
      desiredState: "stopped",
    });

    // Viewers may not; the refusal is audited. People outside the project see nothing.
    await expectProblem(await cancel(t, stop.operation.id, "viewer"), 403, "forbidden");
    await expectProblem(await cancel(t, stop.operation.id, "outsider"), 404, "not_found");

    const cancelled = await okJson<Op>(await cancel(t, stop.operation.id));
    expect(cancelled).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
    expect(await vmRow(h, vmId)).toMatchObject({
      observedState: "running",
      desiredState: "running",
    });
    const [item] = await h.deps.db
      .select()
      .from(workItems)
      .where(eq(workItems.idem, stop.operation.id));
    expect(item).toMatchObject({ state: "cancelled" });
    const audit = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "operation.cancel"));
    expect(audit.map((a) => a.outcome)).toEqual(["denied", "success"]);

    // Again: a no-op. The VM takes new operations.
    expect(await okJson<Op>(await cancel(t, stop.operation.id))).toMatchObject({
      status: "cancelled",
    });
    await okJson(await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }), 202);
  });

  it("cancelling a create leaves an error VM to delete (a start does not make it vanish); a finished operation is a 409", async () => {
    const { h, t, imageId } = await vmFleet();
    const { vm, operation } = await createVm(t, imageId);
    expect(await okJson<Op>(await cancel(t, operation.id))).toMatchObject({ status: "cancelled" });
    expect(await vmRow(h, vm.id)).toMatchObject({ observedState: "error" });
    // Starting it finds nothing on the host: it stays an error VM, it does not vanish.
    await okJson(await t.member.request(`/api/v1/vms/${vm.id}/start`, { method: "POST" }), 202);
    await hostReports(h, vm.id, "failed", {
      error: { code: "vm_not_found", message: `no VM ${vm.id} on this host`, retryable: false },
      observed: { state: "deleted", hostVmId: vm.id },
    });
    expect(await vmRow(h, vm.id)).toMatchObject({ observedState: "error" });
    // A delete that fails part-way on the host leaves it deleting; deleting again is allowed.
    await okJson(await t.member.request(`/api/v1/vms/${vm.id}`, { method: "DELETE" }), 202);
    await hostReports(h, vm.id, "failed", {
      error: { code: "disk_busy", message: "the disk is in use", retryable: true },
      observed: { state: "deleting", hostVmId: vm.id },
    });
    expect(await vmRow(h, vm.id)).toMatchObject({ observedState: "deleting" });
    await okJson(await t.member.request(`/api/v1/vms/${vm.id}`, { method: "DELETE" }), 202);
    await hostReports(h, vm.id);
    expect(await vmRow(h, vm.id)).toBeUndefined();

    const other = await createVm(t, imageId, "web-2");
    await hostReports(h, other.vm.id);
    const finished = await expectProblem(
      await cancel(t, other.operation.id),
      409,
      "already_finished",
    );
    expect(JSON.stringify(finished)).toContain("succeeded");
  });

  it("an operation its host runs stops at the host's next safe point", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    const restart = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/restart`, { method: "POST" }),
      202,
    );
    // The host holds it (claimed and acked, with a live lease).
    await h.deps.db
      .update(workItems)
      .set({ state: "accepted", leaseExpiresAt: h.clock.now() + 60_000 })
      .where(eq(workItems.idem, restart.operation.id));
    expect(await okJson<Op>(await cancel(t, restart.operation.id))).toMatchObject({
      status: "running",
    });
    const [item] = await h.deps.db
      .select()
      .from(workItems)
      .where(eq(workItems.idem, restart.operation.id));
    expect(item?.cancelRequestedAt).not.toBeNull();
    expect(item?.state).toBe("accepted");
  });

  it("a cancel its host confirms leaves the VM as the host saw it: meant to stay so, its room given back", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    const [host] = await h.deps.db.select().from(hosts).where(eq(hosts.id, hostId));
    if (!host) throw new Error("no host");
    /** The host holds the operation's item, the user cancels, the host confirms it stopped. */
    const cancelHeld = async (opId: string, observed?: Record<string, unknown>) => {
      const [item] = await h.deps.db
        .update(workItems)
        .set({ state: "accepted", leaseEpoch: 1, leaseExpiresAt: h.clock.now() + 60_000 })
        .where(eq(workItems.idem, opId))
        .returning();
      if (!item) throw new Error("no item");
      expect(await okJson<Op>(await cancel(t, opId))).toMatchObject({ status: "running" });
      await recordResult(h.deps, host, item.id, {
        lease_epoch: 1,
        attempt: 1,
        outcome: "cancelled",
        ...(observed ? { observed } : {}),
      });
      expect(await okJson<Op>(await t.member.request(`/api/v1/operations/${opId}`))).toMatchObject({
        status: "cancelled",
      });
    };
    // A stop stopped at a safe point, the VM still running: it is meant to run.
    const stop = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }),
      202,
    );
    await cancelHeld(stop.operation.id, { state: "running", hostVmId: vmId });
    expect(await vmRow(h, vmId)).toMatchObject({
      observedState: "running",
      desiredState: "running",
    });
    // A resize of the stopped VM cancelled before it began (no observation): its last report.
    await okJson(await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }), 202);
    await hostReports(h, vmId);
    await inventoryHas(h, hostId, vmId, "stopped");
    const resize = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/resize`, {
        method: "POST",
        json: { diskGb: 50 },
      }),
      202,
    );
    await cancelHeld(resize.operation.id);
    expect(await vmRow(h, vmId)).toMatchObject({
      observedState: "stopped",
      desiredState: "stopped",
      diskGb: 10,
    });
  });

  it("an operation whose dispatch was lost is cancelled directly", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    const pause = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/pause`, { method: "POST" }),
      202,
    );
    await h.deps.db.delete(workItems).where(eq(workItems.idem, pause.operation.id));
    expect(await okJson<Op>(await cancel(t, pause.operation.id))).toMatchObject({
      status: "cancelled",
    });
    expect(await vmRow(h, vmId)).toMatchObject({ observedState: "running" });
  });

  it("an operation whose item expired (which the reconciler would dispatch again) is cancelled directly", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    const pause = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/pause`, { method: "POST" }),
      202,
    );
    await h.deps.db
      .update(workItems)
      .set({ state: "expired", outcome: "expired" })
      .where(eq(workItems.idem, pause.operation.id));
    expect(await okJson<Op>(await cancel(t, pause.operation.id))).toMatchObject({
      status: "cancelled",
    });
    expect(await vmRow(h, vmId)).toMatchObject({ observedState: "running" });
  });

  it("without a report from the host, a state only the request set becomes unknown", async () => {
    const { h, t, imageId } = await vmFleet();
    const { vm } = await createVm(t, imageId);
    await hostReports(h, vm.id);
    const stop = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vm.id}/stop`, { method: "POST" }),
      202,
    );
    await okJson(await cancel(t, stop.operation.id));
    expect(await vmRow(h, vm.id)).toMatchObject({ observedState: "unknown" });
  });

  it("revoking a host ends its open work: the operation fails with host_revoked", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    const stop = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }),
      202,
    );
    await okJson(await t.owner.request(`/api/v1/hosts/${hostId}/revoke`, { method: "POST" }));
    const op = await okJson<Op>(await t.member.request(`/api/v1/operations/${stop.operation.id}`));
    expect(op).toMatchObject({ status: "failed", error: { code: "host_revoked" } });
    const [item] = await h.deps.db
      .select()
      .from(workItems)
      .where(eq(workItems.idem, stop.operation.id));
    expect(item).toMatchObject({ state: "cancelled", outcome: "cancelled" });
    // The stop never ran: the VM is as its host last reported it.
    expect(await vmRow(h, vmId)).toMatchObject({ observedState: "running" });
  });

  it("revoking a host with more open work than one request ends: the rest ends in the periodic jobs", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    const earlier = 4 * SHUT_OUT_PAGE;
    for (let i = 0; i < earlier; i++) {
      await enqueueWork(h.deps, {
        hostId,
        op: "host.noop",
        resource: { kind: "host", id: hostId, uid: `${hostId}-${i}` },
        createdBy: "test",
      });
    }
    // Queued after all of those: among what the revoke leaves to the periodic jobs.
    const stop = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }),
      202,
    );
    const open = async () =>
      (
        await h.deps.db
          .select({ id: workItems.id })
          .from(workItems)
          .where(
            and(
              eq(workItems.hostId, hostId),
              notInArray(workItems.state, [...TERMINAL_WORK_STATES]),
            ),
          )
      ).length;
    const before = await open();
    expect(before).toBeGreaterThan(3 * SHUT_OUT_PAGE);
    await okJson(await t.owner.request(`/api/v1/hosts/${hostId}/revoke`, { method: "POST" }));
    // The decision's own page and two more: bounded, whatever the host had.
    expect(await open()).toBe(before - 3 * SHUT_OUT_PAGE);
    const operation = async () =>
      okJson<Op>(await t.member.request(`/api/v1/operations/${stop.operation.id}`));
    expect((await operation()).status).not.toBe("failed");
    await runPeriodicJobs(h.deps);
    expect(await open()).toBe(0);
    expect(await operation()).toMatchObject({ status: "failed", error: { code: "host_revoked" } });
    expect(await vmRow(h, vmId)).toMatchObject({ observedState: "running" });
  });

  it("a resize that does not happen gives its room back: the VM keeps the size its host reports", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const vmId = await runningVm(h, t, hostId, imageId);
    await okJson(await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }), 202);
    await hostReports(h, vmId);
    await inventoryHas(h, hostId, vmId, "stopped"); // a resize needs a stopped VM
    const resize = async (diskGb: number) =>
      okJson<Accepted>(
        await t.member.request(`/api/v1/vms/${vmId}/resize`, { method: "POST", json: { diskGb } }),
        202,
      );
    // Cancelled before its host ran it: back to the size of the host's last report.
    const grown = await resize(50);
    expect(await vmRow(h, vmId)).toMatchObject({ diskGb: 50 });
    expect(await okJson<Op>(await cancel(t, grown.operation.id))).toMatchObject({
      status: "cancelled",
    });
    expect(await vmRow(h, vmId)).toMatchObject({ vcpus: 1, memoryMb: 1024, diskGb: 10 });
    // Failed on its host, which says what the VM has now.
    await resize(80);
    await hostReports(h, vmId, "failed", {
      error: { code: "disk_resize_failed", message: "no room in the pool", retryable: false },
      observed: { state: "stopped", hostVmId: vmId, vcpus: 1, memoryMb: 1024, diskGb: 20 },
    });
    expect(await vmRow(h, vmId)).toMatchObject({ diskGb: 20, observedState: "stopped" });
  });

  it("refuses malformed and unknown operation ids with clear problems", async () => {
    const { h, t } = await vmFleet();
    // As for GET /api/v1/operations/{id}: any id that names no operation is a 404.
    await expectProblem(await cancel(t, "op_nope"), 404, "not_found");
    await expectProblem(await cancel(t, `op_${"0".repeat(26)}`), 404, "not_found");
    const anonymous = await h.request(`/api/v1/operations/op_${"0".repeat(26)}/cancel`, {
      method: "POST",
    });
    expect(anonymous.headers.get("content-type")).toBe("application/problem+json");
    expect([401, 403]).toContain(anonymous.status);
  });
});
