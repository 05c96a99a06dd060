import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { workItems } from "../../src/db/schema";
import { approvedHost, vmFleet as fleet, hostReports } from "../support/fleet";
import { createHarness } from "../support/harness";
import { expectInvalid, expectProblem, okJson, type Team, team } from "../tenancy/fixtures";

type Op = { id: string; status: string; kind: string; error: { code: string } | null };
type Vm = {
  id: string;
  name: string;
  observedState: string;
  desiredState: string;
  hostId: string | null;
};
type Accepted = { vm: Vm; operation: Op };

const SHA = "a".repeat(64);

function vmBody(imageId: string, over: Record<string, unknown> = {}) {
  return { name: "web-1", imageId, vcpus: 2, memoryMb: 2048, diskGb: 10, ...over };
}

async function createVm(
  t: Team,
  imageId: string,
  over: Record<string, unknown> = {},
  key?: string,
) {
  return t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
    method: "POST",
    json: vmBody(imageId, over),
    ...(key ? { headers: { "idempotency-key": key } } : {}),
  });
}

describe("VM API", () => {
  it("creates a VM: 202 with an operation, placed on a host, with a signed-work item queued", async () => {
    const { h, t, hostId, imageId } = await fleet();
    const res = await createVm(t, imageId);
    const body = await okJson<Accepted>(res, 202);
    expect(res.headers.get("location")).toBe(`/api/v1/operations/${body.operation.id}`);
    expect(body.vm).toMatchObject({
      name: "web-1",
      desiredState: "running",
      observedState: "provisioning",
      hostId,
    });
    expect(body.operation).toMatchObject({ kind: "vm.create", status: "running" });
    const [item] = await h.deps.db
      .select()
      .from(workItems)
      .where(eq(workItems.resourceId, body.vm.id));
    expect(item).toMatchObject({
      hostId,
      op: "vm.create",
      idem: body.operation.id,
      state: "queued",
    });
    expect(item?.params).toMatchObject({
      name: "web-1",
      vcpus: 2,
      image: { id: imageId, sha256: SHA },
    });

    await hostReports(h, body.vm.id);
    const vm = await okJson<Vm>(await t.viewer.request(`/api/v1/vms/${body.vm.id}`));
    expect(vm.observedState).toBe("running");
    const op = await okJson<Op>(
      await t.viewer.request(`/api/v1/operations/${body.operation.id}?wait=1s`),
    );
    expect(op.status).toBe("succeeded");
  });

  it("walks the lifecycle: stop, start, pause, resume, restart, delete", async () => {
    const { h, t, imageId } = await fleet();
    const { vm } = await okJson<Accepted>(await createVm(t, imageId), 202);
    await hostReports(h, vm.id);
    const steps: [string, string, string][] = [
      ["stop", "stopping", "stopped"],
      ["start", "pending", "running"],
      ["pause", "running", "paused"],
      ["resume", "paused", "running"],
      ["restart", "running", "running"],
    ];
    for (const [action, during, after] of steps) {
      const accepted = await okJson<Accepted>(
        await t.member.request(`/api/v1/vms/${vm.id}/${action}`, { method: "POST" }),
        202,
      );
      expect(accepted.vm.observedState).toBe(during);
      expect(accepted.operation.kind).toBe(`vm.${action}`);
      await hostReports(h, vm.id);
      expect((await okJson<Vm>(await t.member.request(`/api/v1/vms/${vm.id}`))).observedState).toBe(
        after,
      );
    }
    const deleting = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vm.id}`, { method: "DELETE" }),
      202,
    );
    expect(deleting.vm).toMatchObject({ desiredState: "deleted", observedState: "deleting" });
    await hostReports(h, vm.id);
    await expectProblem(await t.member.request(`/api/v1/vms/${vm.id}`), 404, "not_found");
    // The name and the capacity are free again.
    expect((await createVm(t, imageId)).status).toBe(202);
    const deleted = await okJson<Op>(
      await t.viewer.request(`/api/v1/operations/${deleting.operation.id}`),
    );
    expect(deleted.status).toBe("succeeded");
  });

  it("resizes only when stopped: CPU, memory and a disk that only grows, within quota and host", async () => {
    const { h, t, imageId } = await fleet();
    const { vm } = await okJson<Accepted>(await createVm(t, imageId), 202);
    await hostReports(h, vm.id);
    const resize = (who: typeof t.member, json: unknown) =>
      who.request(`/api/v1/vms/${vm.id}/resize`, { method: "POST", json });

    await expectInvalid(await resize(t.member, {}), "");
    await expectInvalid(await resize(t.member, { vcpus: 0 }), "vcpus");
    await expectProblem(await resize(t.viewer, { diskGb: 20 }), 403, "forbidden");
    await expectProblem(await resize(t.outsider, { diskGb: 20 }), 404, "not_found");
    const running = await expectProblem(await resize(t.member, { vcpus: 4 }), 409, "invalid_state");
    expect(running.errors?.[0]).toMatchObject({ field: "vcpus" });
    await expectInvalid(await resize(t.member, { diskGb: 5 }), "diskGb");
    // Nor the disk while it runs (Cloud Hypervisor cannot grow its copy-on-write root disk).
    const runningDisk = await expectProblem(
      await resize(t.member, { diskGb: 20 }),
      409,
      "invalid_state",
    );
    expect(runningDisk.errors?.[0]).toMatchObject({ field: "diskGb" });
    expect(await okJson<Vm>(await t.member.request(`/api/v1/vms/${vm.id}`))).toMatchObject({
      observedState: "running",
      diskGb: 10,
    });

    await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vm.id}/stop`, { method: "POST" }),
      202,
    );
    await hostReports(h, vm.id);
    const grown = await okJson<Accepted>(await resize(t.member, { diskGb: 20 }), 202);
    expect(grown.operation.kind).toBe("vm.resize");
    const item = await hostReports(h, vm.id);
    expect(item.params).toMatchObject({ vcpus: 2, memoryMb: 2048, diskGb: 20 });
    expect(await okJson<Vm>(await t.member.request(`/api/v1/vms/${vm.id}`))).toMatchObject({
      observedState: "stopped",
      diskGb: 20,
    });
    await t.admin.request(`/api/v1/projects/${t.project.id}/quota`, {
      method: "PUT",
      json: { maxVms: 10, maxVcpus: 4, maxMemoryMb: 100_000, maxDiskGb: 1000 },
    });
    const quota = await expectProblem(await resize(t.member, { vcpus: 8 }), 409, "no_capacity");
    expect(quota).toMatchObject({ scope: "quota" });
    const ok = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vm.id}/resize`, {
        method: "POST",
        json: { vcpus: 4, memoryMb: 4096 },
        headers: { "idempotency-key": "resize-1" },
      }),
      202,
    );
    expect(ok.vm).toMatchObject({ vcpus: 4, memoryMb: 4096, observedState: "stopped" });
    // A second change while the resize is under way is refused.
    await expectProblem(await resize(t.member, { diskGb: 30 }), 409, "operation_in_progress");
    const replay = await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vm.id}/resize`, {
        method: "POST",
        json: { vcpus: 4, memoryMb: 4096 },
        headers: { "idempotency-key": "resize-1" },
      }),
      202,
    );
    expect(replay.operation.id).toBe(ok.operation.id);
    await hostReports(h, vm.id);
    const usage = await okJson<{ usage: { vcpus: number; memoryMb: number } }>(
      await t.viewer.request(`/api/v1/projects/${t.project.id}/quota`),
    );
    expect(usage.usage).toMatchObject({ vcpus: 4, memoryMb: 4096 });
  });

  it("lists a project's operations, deleted VMs' included, to those who see the project", async () => {
    const { h, t, imageId } = await fleet();
    const { vm } = await okJson<Accepted>(await createVm(t, imageId), 202);
    await hostReports(h, vm.id);
    h.clock.advance(1_000);
    await okJson<Accepted>(
      await t.member.request(`/api/v1/vms/${vm.id}`, { method: "DELETE" }),
      202,
    );
    await hostReports(h, vm.id);
    const list = await okJson<{ items: Op[] }>(
      await t.viewer.request(`/api/v1/projects/${t.project.id}/operations`),
    );
    expect(list.items.map((o) => [o.kind, o.status])).toEqual([
      ["vm.delete", "succeeded"],
      ["vm.create", "succeeded"],
    ]);
    const one = await okJson<{ items: Op[] }>(
      await t.viewer.request(`/api/v1/projects/${t.project.id}/operations?limit=1`),
    );
    expect(one.items).toHaveLength(1);
    await expectInvalid(
      await t.viewer.request(`/api/v1/projects/${t.project.id}/operations?limit=0`),
      "limit",
      "query",
    );
    await expectProblem(
      await t.outsider.request(`/api/v1/projects/${t.project.id}/operations`),
      404,
      "not_found",
    );
  });

  it("refuses actions that do not fit the state, and a second change while one is under way", async () => {
    const { h, t, imageId } = await fleet();
    const { vm, operation } = await okJson<Accepted>(await createVm(t, imageId), 202);
    const busy = await expectProblem(
      await t.member.request(`/api/v1/vms/${vm.id}/stop`, { method: "POST" }),
      409,
      "operation_in_progress",
    );
    expect((busy as { detail?: string }).detail).toContain(operation.id);
    await hostReports(h, vm.id);
    await expectProblem(
      await t.member.request(`/api/v1/vms/${vm.id}/resume`, { method: "POST" }),
      409,
      "invalid_state",
    );
    await expectProblem(
      await t.member.request(`/api/v1/vms/${vm.id}/start`, { method: "POST" }),
      409,
      "invalid_state",
    );
  });

  it("records a failed operation with the host's error code and marks the VM", async () => {
    const { h, t, imageId } = await fleet();
    const { vm, operation } = await okJson<Accepted>(await createVm(t, imageId), 202);
    await hostReports(h, vm.id, "failed");
    const op = await okJson<Op>(await t.member.request(`/api/v1/operations/${operation.id}`));
    expect(op).toMatchObject({ status: "failed", error: { code: "boot_failed" } });
    expect((await okJson<Vm>(await t.member.request(`/api/v1/vms/${vm.id}`))).observedState).toBe(
      "error",
    );
  });

  it("honours Idempotency-Key: a replay returns the same operation, another body is refused", async () => {
    const { t, imageId } = await fleet();
    const first = await okJson<Accepted>(await createVm(t, imageId, {}, "create-web-1"), 202);
    const again = await okJson<Accepted>(await createVm(t, imageId, {}, "create-web-1"), 202);
    expect(again.operation.id).toBe(first.operation.id);
    expect(again.vm.id).toBe(first.vm.id);
    await expectProblem(
      await createVm(t, imageId, { name: "web-2" }, "create-web-1"),
      422,
      "idempotency_mismatch",
    );
  });

  it("enforces project quotas and host capacity with typed no_capacity errors", async () => {
    const { t, imageId } = await fleet();
    const setQuota = await t.admin.request(`/api/v1/projects/${t.project.id}/quota`, {
      method: "PUT",
      json: { maxVms: 1, maxVcpus: 8, maxMemoryMb: 8192, maxDiskGb: 100 },
    });
    expect(setQuota.status).toBe(200);
    await expectProblem(
      await t.member.request(`/api/v1/projects/${t.project.id}/quota`, {
        method: "PUT",
        json: { maxVms: 5, maxVcpus: 8, maxMemoryMb: 8192, maxDiskGb: 100 },
      }),
      403,
      "forbidden",
    );
    expect((await createVm(t, imageId)).status).toBe(202);
    const quota = await expectProblem(
      await createVm(t, imageId, { name: "web-2" }),
      409,
      "no_capacity",
    );
    expect(quota).toMatchObject({ scope: "quota" });

    await t.admin.request(`/api/v1/projects/${t.project.id}/quota`, {
      method: "PUT",
      json: { maxVms: 10, maxVcpus: 1000, maxMemoryMb: 10_000_000, maxDiskGb: 100_000 },
    });
    // 8 CPUs × 4 overcommit = 32 vCPUs on the only host; 2 are used.
    const cpu = await expectProblem(
      await createVm(t, imageId, { name: "big", vcpus: 64 }),
      409,
      "no_capacity",
    );
    expect(cpu).toMatchObject({ scope: "cpu" });
    const usage = await okJson<{ usage: { vms: number } }>(
      await t.viewer.request(`/api/v1/projects/${t.project.id}/quota`),
    );
    expect(usage.usage.vms).toBe(1);
  });

  it("places by the configured strategy: spread by default, binpack when configured", async () => {
    for (const strategy of ["spread", "binpack"] as const) {
      const h = await createHarness({
        config: { placement: { strategy, cpuOvercommit: 4, memoryOvercommit: 1 } },
      });
      const t = await team(h);
      const hosts = [await approvedHost(h, t.org.id), await approvedHost(h, t.org.id)];
      const image = await okJson<{ id: string }>(
        await t.admin.request(`/api/v1/organizations/${t.org.id}/images`, {
          method: "POST",
          json: { name: "d", url: "https://images.example/d.qcow2", sha256: SHA, format: "qcow2" },
        }),
        201,
      );
      const placed: (string | null)[] = [];
      for (const name of ["a", "b"]) {
        placed.push((await okJson<Accepted>(await createVm(t, image.id, { name }), 202)).vm.hostId);
      }
      expect(placed.every((p) => p !== null && hosts.includes(p))).toBe(true);
      expect(new Set(placed).size, strategy).toBe(strategy === "spread" ? 2 : 1);
    }
  });

  it("says no_host when the organization has no usable host", async () => {
    const h = await createHarness();
    const t = await team(h);
    const image = await okJson<{ id: string }>(
      await t.admin.request(`/api/v1/organizations/${t.org.id}/images`, {
        method: "POST",
        json: { name: "img", url: "https://images.example/i.raw", sha256: SHA, format: "raw" },
      }),
      201,
    );
    expect(await expectProblem(await createVm(t, image.id), 409, "no_capacity")).toMatchObject({
      scope: "no_host",
    });
  });

  it("rejects bad input with the offending fields", async () => {
    const { t, imageId } = await fleet();
    await expectInvalid(await createVm(t, imageId, { name: "Web_1" }), "name");
    await expectInvalid(await createVm(t, imageId, { memoryMb: 1000 }), "memoryMb");
    await expectInvalid(await createVm(t, imageId, { sshKeys: ["not a key"] }), "sshKeys.0");
    await expectInvalid(await createVm(t, imageId, { diskGb: 1 }), "diskGb");
    await expectInvalid(
      await t.member.request(`/api/v1/projects/${t.project.id}/vms?limit=0`),
      "limit",
      "query",
    );
  });

  it("authorizes: viewers read, members act, outsiders see nothing", async () => {
    const { t, imageId } = await fleet();
    await expectProblem(
      await t.viewer.request(`/api/v1/projects/${t.project.id}/vms`, {
        method: "POST",
        json: vmBody(imageId),
      }),
      403,
      "forbidden",
    );
    await expectProblem(
      await t.outsider.request(`/api/v1/projects/${t.project.id}/vms`, {
        method: "POST",
        json: vmBody(imageId),
      }),
      404,
      "not_found",
    );
    const { vm } = await okJson<Accepted>(await createVm(t, imageId), 202);
    expect((await t.viewer.request(`/api/v1/vms/${vm.id}`)).status).toBe(200);
    await expectProblem(
      await t.viewer.request(`/api/v1/vms/${vm.id}`, { method: "DELETE" }),
      403,
      "forbidden",
    );
    await expectProblem(await t.outsider.request(`/api/v1/vms/${vm.id}`), 404, "not_found");
    await expectProblem(
      await t.outsider.request(`/api/v1/vms/${vm.id}/stop`, { method: "POST" }),
      404,
      "not_found",
    );
    const list = await okJson<{ items: Vm[] }>(
      await t.viewer.request(`/api/v1/projects/${t.project.id}/vms`),
    );
    expect(list.items.map((v) => v.id)).toEqual([vm.id]);
    await expectProblem(
      await t.outsider.request(`/api/v1/projects/${t.project.id}/vms`),
      404,
      "not_found",
    );
  });

  it("pages VM lists with a keyset cursor and filters them", async () => {
    const { h, t, imageId } = await fleet();
    for (const name of ["a", "b", "c"]) {
      h.clock.advance(1000);
      await createVm(t, imageId, { name });
    }
    const base = `/api/v1/projects/${t.project.id}/vms`;
    const first = await okJson<{ items: Vm[]; next: string | null }>(
      await t.viewer.request(`${base}?limit=2`),
    );
    expect(first.items.map((v) => v.name)).toEqual(["c", "b"]);
    const second = await okJson<{ items: Vm[]; next: string | null }>(
      await t.viewer.request(`${base}?limit=2&cursor=${encodeURIComponent(first.next ?? "")}`),
    );
    expect(second).toMatchObject({ items: [expect.objectContaining({ name: "a" })], next: null });
    const filtered = await okJson<{ items: Vm[] }>(await t.viewer.request(`${base}?q=b`));
    expect(filtered.items.map((v) => v.name)).toEqual(["b"]);
    await expectInvalid(await t.viewer.request(`${base}?cursor=garbage`), "cursor", "query");
  });

  it("sorts VM lists by creation or name, each order paging with its own cursor", async () => {
    const { h, t, imageId } = await fleet();
    // Created in an order that differs from the names' order; two share a creation time.
    for (const name of ["mango", "apple", "zebra", "kiwi", "banana"]) {
      if (name !== "zebra") h.clock.advance(1000);
      await createVm(t, imageId, { name });
    }
    const base = `/api/v1/projects/${t.project.id}/vms`;
    /** Every page of one order, two VMs at a time, following `next`. */
    const walk = async (sort: string) => {
      const names: string[] = [];
      let next: string | null = null;
      do {
        const cursor: string = next ? `&cursor=${encodeURIComponent(next)}` : "";
        const page: { items: Vm[]; next: string | null } = await okJson(
          await t.viewer.request(`${base}?sort=${sort}&limit=2${cursor}`),
        );
        names.push(...page.items.map((v) => v.name));
        next = page.next;
      } while (next);
      return names;
    };
    expect(await walk("name_asc")).toEqual(["apple", "banana", "kiwi", "mango", "zebra"]);
    expect(await walk("name_desc")).toEqual(["zebra", "mango", "kiwi", "banana", "apple"]);
    const newest = await walk("created_desc");
    expect(newest.slice(0, 2)).toEqual(["banana", "kiwi"]);
    expect(newest.slice(2, 4).sort()).toEqual(["apple", "zebra"]);
    expect(await walk("created_asc")).toEqual([...newest].reverse());

    // A cursor belongs to its order; an unknown order is named.
    const byName = await okJson<{ next: string | null }>(
      await t.viewer.request(`${base}?sort=name_asc&limit=2`),
    );
    await expectInvalid(
      await t.viewer.request(`${base}?sort=created_desc&cursor=${byName.next ?? ""}`),
      "cursor",
      "query",
    );
    await expectInvalid(await t.viewer.request(`${base}?sort=size`), "sort", "query");
  });

  it("requires authentication", async () => {
    const h = await createHarness();
    const res = await h.request("/api/v1/vms/vm_123");
    expect(res.status).toBe(401);
  });
});
