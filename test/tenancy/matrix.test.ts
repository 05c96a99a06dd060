import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, workItems } from "../../src/db/schema";
import { createEnrollmentToken } from "../../src/domain/hosts/create-enrollment-token";
import { applyVmResult } from "../../src/domain/vms/apply-result";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { enrollHost } from "../agent/support";
import { signedInUser, type TestUser, withToken } from "../support/actors";
import { approvedHost } from "../support/fleet";
import { createHarness } from "../support/harness";
import { addMember, mintToken, okJson, type Team, team } from "./fixtures";

type Person = "owner" | "admin" | "member" | "viewer" | "outsider";
type Role = Person | "adminToken" | "viewerToken";
const ROLES: Role[] = [
  "owner",
  "admin",
  "member",
  "viewer",
  "outsider",
  "adminToken",
  "viewerToken",
];

/** A mutation: how to prepare it, the request, the audit action it must write when it succeeds. */
type Case = {
  name: string;
  action: string;
  prepare?: (t: Team & { extra: TestUser }) => Promise<Record<string, string>>;
  method: string;
  path: (t: Team, ids: Record<string, string>) => string;
  json?: (t: Team & { extra: TestUser }, ids: Record<string, string>) => unknown;
  expected: Record<Role, number>;
};

const ONLY_ADMINS = {
  owner: 0,
  admin: 0,
  member: 403,
  viewer: 403,
  outsider: 404,
  adminToken: 0,
  viewerToken: 403,
};

/** Who may operate a project's VMs: its members (and the organization's admins and owners). */
const PROJECT_MEMBERS = (ok: number) => ({
  owner: ok,
  admin: ok,
  member: ok,
  viewer: 403,
  outsider: 404,
  adminToken: ok,
  viewerToken: 403,
});

/** An approved host and an image in the team's organization. */
async function vmFleet(t: Team): Promise<{ hostId: string; imageId: string }> {
  const hostId = await approvedHost(t.h, t.org.id);
  const image = await okJson<{ id: string }>(
    await t.owner.request(`/api/v1/organizations/${t.org.id}/images`, {
      method: "POST",
      json: {
        name: "debian",
        url: "https://images.example/debian.qcow2",
        sha256: "d".repeat(64),
        format: "qcow2",
      },
    }),
    201,
  );
  return { hostId, imageId: image.id };
}

/** A host that enrolled with a token of the organization and waits for approval. */
async function pendingHost(t: Team): Promise<string> {
  const sc = { deps: t.h.deps, actor: { kind: "system" as const }, requestId: "test" };
  const { secret } = await createEnrollmentToken(sc, {
    orgId: t.org.id,
    description: "test",
    scope: "default",
    maxUses: 1,
  });
  const { res } = await enrollHost(t.h, secret);
  return (await okJson<{ host_id: string }>(res, 201)).host_id;
}

/** A VM the host reports running (created by the extra member, so it is nobody's own). */
async function runningVm(t: Team & { extra: TestUser }): Promise<string> {
  const { imageId } = await vmFleet(t);
  const { vm } = await okJson<{ vm: { id: string } }>(
    await t.extra.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "web-0", imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
    }),
    202,
  );
  const [item] = await t.h.deps.db.select().from(workItems).where(eq(workItems.resourceId, vm.id));
  if (!item) throw new Error("no work item");
  await applyVmResult(t.h.deps, item, { lease_epoch: 1, attempt: 1, outcome: "succeeded" });
  return vm.id;
}

/** A VM its host reports stopped: a resize needs one. */
async function stoppedVm(t: Team & { extra: TestUser }): Promise<string> {
  const vm = await runningVm(t);
  await okJson(await t.extra.request(`/api/v1/vms/${vm}/stop`, { method: "POST" }), 202);
  const [item] = await t.h.deps.db
    .select()
    .from(workItems)
    .where(and(eq(workItems.resourceId, vm), eq(workItems.op, "vm.stop")));
  if (!item) throw new Error("no stop item");
  await applyVmResult(t.h.deps, item, { lease_epoch: 1, attempt: 1, outcome: "succeeded" });
  return vm;
}

const CASES: Case[] = [
  {
    name: "rename organization",
    action: "organization.update",
    method: "PATCH",
    path: (t) => `/api/v1/organizations/${t.org.id}`,
    json: () => ({ name: "Renamed" }),
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
  {
    name: "delete organization",
    action: "organization.delete",
    prepare: async (t) => {
      await t.owner.request(`/api/v1/projects/${t.project.id}`, { method: "DELETE" });
      return {};
    },
    method: "DELETE",
    path: (t) => `/api/v1/organizations/${t.org.id}`,
    expected: { ...ONLY_ADMINS, owner: 204, admin: 403, adminToken: 403 },
  },
  {
    name: "change a member's role",
    action: "member.change_role",
    method: "PATCH",
    path: (t, ids) => `/api/v1/organizations/${t.org.id}/members/${ids.extra}`,
    json: () => ({ role: "viewer" }),
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
  {
    name: "remove a member",
    action: "member.remove",
    method: "DELETE",
    path: (t, ids) => `/api/v1/organizations/${t.org.id}/members/${ids.extra}`,
    expected: { ...ONLY_ADMINS, owner: 204, admin: 204, adminToken: 204 },
  },
  {
    name: "leave the organization",
    action: "member.leave",
    method: "POST",
    path: (t) => `/api/v1/organizations/${t.org.id}/leave`,
    expected: {
      owner: 409,
      admin: 204,
      member: 204,
      viewer: 204,
      outsider: 404,
      // Tokens never leave for the person who minted them.
      adminToken: 403,
      viewerToken: 403,
    },
  },
  {
    name: "invite",
    action: "invitation.create",
    method: "POST",
    path: (t) => `/api/v1/organizations/${t.org.id}/invitations`,
    json: () => ({ email: "new@example.test", role: "member" }),
    expected: { ...ONLY_ADMINS, owner: 201, admin: 201, adminToken: 201 },
  },
  {
    name: "revoke an invitation",
    action: "invitation.revoke",
    prepare: async (t) => {
      const inv = await okJson<{ id: string }>(
        await t.owner.request(`/api/v1/organizations/${t.org.id}/invitations`, {
          method: "POST",
          json: { email: "new@example.test", role: "member" },
        }),
        201,
      );
      return { invitation: inv.id };
    },
    method: "DELETE",
    path: (t, ids) => `/api/v1/organizations/${t.org.id}/invitations/${ids.invitation}`,
    expected: { ...ONLY_ADMINS, owner: 204, admin: 204, adminToken: 204 },
  },
  {
    name: "create a project",
    action: "project.create",
    method: "POST",
    path: (t) => `/api/v1/organizations/${t.org.id}/projects`,
    json: () => ({ name: "New" }),
    expected: { ...ONLY_ADMINS, owner: 201, admin: 201, adminToken: 201 },
  },
  {
    name: "rename a project",
    action: "project.update",
    method: "PATCH",
    path: (t) => `/api/v1/projects/${t.project.id}`,
    json: () => ({ name: "Renamed" }),
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
  {
    name: "delete a project",
    action: "project.delete",
    method: "DELETE",
    path: (t) => `/api/v1/projects/${t.project.id}`,
    expected: { ...ONLY_ADMINS, owner: 204, admin: 204, adminToken: 204 },
  },
  {
    name: "add a project member",
    action: "project_member.add",
    method: "POST",
    path: (t) => `/api/v1/projects/${t.project.id}/members`,
    json: (_t, ids) => ({ userId: ids.extra, role: "member" }),
    expected: { ...ONLY_ADMINS, owner: 201, admin: 201, adminToken: 201 },
  },
  {
    name: "change a project member",
    action: "project_member.change_role",
    prepare: async (t) => {
      await t.owner.request(`/api/v1/projects/${t.project.id}/members`, {
        method: "POST",
        json: { userId: t.extra.user.id, role: "viewer" },
      });
      return {};
    },
    method: "PATCH",
    path: (t, ids) => `/api/v1/projects/${t.project.id}/members/${ids.extra}`,
    json: () => ({ role: "admin" }),
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
  {
    name: "remove a project member",
    action: "project_member.remove",
    prepare: async (t) => {
      await t.owner.request(`/api/v1/projects/${t.project.id}/members`, {
        method: "POST",
        json: { userId: t.extra.user.id, role: "viewer" },
      });
      return {};
    },
    method: "DELETE",
    path: (t, ids) => `/api/v1/projects/${t.project.id}/members/${ids.extra}`,
    expected: { ...ONLY_ADMINS, owner: 204, admin: 204, adminToken: 204 },
  },
  {
    name: "mint a viewer token",
    action: "api_token.create",
    method: "POST",
    path: (t) => `/api/v1/organizations/${t.org.id}/tokens`,
    json: () => ({ name: "t", role: "viewer" }),
    expected: {
      owner: 201,
      admin: 201,
      member: 201,
      viewer: 201,
      outsider: 404,
      adminToken: 201,
      viewerToken: 201,
    },
  },
  {
    name: "revoke someone else's token",
    action: "api_token.revoke",
    prepare: async (t) => ({ token: (await mintToken(t.extra, t.org.id, { role: "member" })).id }),
    method: "DELETE",
    path: (_t, ids) => `/api/v1/tokens/${ids.token}`,
    expected: {
      owner: 204,
      admin: 204,
      member: 404,
      viewer: 404,
      outsider: 404,
      adminToken: 204,
      viewerToken: 404,
    },
  },
  // VMs, images and quotas (docs/vms.md): project members operate VMs, organization admins curate
  // the image catalog and set quotas.
  {
    name: "create a VM",
    action: "vm.create",
    prepare: async (t) => ({ image: (await vmFleet(t)).imageId }),
    method: "POST",
    path: (t) => `/api/v1/projects/${t.project.id}/vms`,
    json: (_t, ids) => ({
      name: "web-1",
      imageId: ids.image,
      vcpus: 1,
      memoryMb: 1024,
      diskGb: 10,
    }),
    expected: PROJECT_MEMBERS(202),
  },
  {
    name: "stop a VM",
    action: "vm.stop",
    prepare: async (t) => ({ vm: await runningVm(t) }),
    method: "POST",
    path: (_t, ids) => `/api/v1/vms/${ids.vm}/stop`,
    expected: PROJECT_MEMBERS(202),
  },
  {
    name: "cancel a VM operation",
    action: "operation.cancel",
    prepare: async (t) => {
      const vm = await runningVm(t);
      const stop = await okJson<{ operation: { id: string } }>(
        await t.extra.request(`/api/v1/vms/${vm}/stop`, { method: "POST" }),
        202,
      );
      return { operation: stop.operation.id };
    },
    method: "POST",
    path: (_t, ids) => `/api/v1/operations/${ids.operation}/cancel`,
    expected: PROJECT_MEMBERS(200),
  },
  {
    name: "resize a VM's disk",
    action: "vm.resize",
    prepare: async (t) => ({ vm: await stoppedVm(t) }),
    method: "POST",
    path: (_t, ids) => `/api/v1/vms/${ids.vm}/resize`,
    json: () => ({ diskGb: 20 }),
    expected: PROJECT_MEMBERS(202),
  },
  {
    name: "delete a VM",
    action: "vm.delete",
    prepare: async (t) => ({ vm: await runningVm(t) }),
    method: "DELETE",
    path: (_t, ids) => `/api/v1/vms/${ids.vm}`,
    expected: PROJECT_MEMBERS(202),
  },
  {
    name: "add an image",
    action: "image.create",
    method: "POST",
    path: (t) => `/api/v1/organizations/${t.org.id}/images`,
    json: () => ({
      name: "alpine",
      url: "https://images.example/alpine.qcow2",
      sha256: "c".repeat(64),
      format: "qcow2",
    }),
    expected: { ...ONLY_ADMINS, owner: 201, admin: 201, adminToken: 201 },
  },
  {
    name: "delete an image",
    action: "image.delete",
    prepare: async (t) => ({ image: (await vmFleet(t)).imageId }),
    method: "DELETE",
    path: (_t, ids) => `/api/v1/images/${ids.image}`,
    expected: { ...ONLY_ADMINS, owner: 204, admin: 204, adminToken: 204 },
  },
  {
    name: "set a project quota",
    action: "project.set_quota",
    method: "PUT",
    path: (t) => `/api/v1/projects/${t.project.id}/quota`,
    json: () => ({ maxVms: 5, maxVcpus: 10, maxMemoryMb: 10_240, maxDiskGb: 100 }),
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
  // Hosts (docs/agent-protocol.md): everyone in the organization sees them; admins run them.
  {
    name: "create an enrollment token",
    action: "enrollment_token.create",
    method: "POST",
    path: (t) => `/api/v1/organizations/${t.org.id}/enrollment-tokens`,
    json: () => ({ description: "rack 1" }),
    expected: { ...ONLY_ADMINS, owner: 201, admin: 201, adminToken: 201 },
  },
  {
    name: "approve a host",
    action: "host.approve",
    prepare: async (t) => ({ host: await pendingHost(t) }),
    method: "POST",
    path: (_t, ids) => `/api/v1/hosts/${ids.host}/approve`,
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
  {
    name: "put a host in maintenance",
    action: "host.maintenance_on",
    prepare: async (t) => {
      const host = await pendingHost(t);
      await t.owner.request(`/api/v1/hosts/${host}/approve`, { method: "POST" });
      return { host };
    },
    method: "PUT",
    path: (_t, ids) => `/api/v1/hosts/${ids.host}/maintenance`,
    json: () => ({ enabled: true }),
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
  {
    name: "cancel a host's work item",
    action: "work_item.cancel",
    prepare: async (t) => {
      const host = await pendingHost(t);
      await t.owner.request(`/api/v1/hosts/${host}/approve`, { method: "POST" });
      const item = await enqueueWork(t.h.deps, {
        hostId: host,
        op: "host.noop",
        resource: { kind: "host", id: host, uid: host },
        createdBy: "test",
      });
      return { host, item: item.id };
    },
    method: "POST",
    path: (_t, ids) => `/api/v1/hosts/${ids.host}/work-items/${ids.item}/cancel`,
    expected: { ...ONLY_ADMINS, owner: 200, admin: 200, adminToken: 200 },
  },
];

describe("role matrix: owner / admin / member / viewer / outsider / API tokens × every mutation", () => {
  const rows = CASES.flatMap((c) => ROLES.map((role) => [c.name, role, c] as const));
  it.each(rows)("%s as %s", async (_name, role, c) => {
    const h = await createHarness();
    const base = await team(h);
    const extra = await signedInUser(h, { name: "Extra Member" });
    await addMember(h, base.org.id, extra, "member");
    const t = { ...base, extra };
    const ids = { extra: extra.user.id, ...(await c.prepare?.(t)) };
    const body = c.json?.(t, ids);
    const init = { method: c.method, ...(body === undefined ? {} : { json: body }) };
    let actor: { type: string; id: string };
    let res: Response;
    if (role === "adminToken" || role === "viewerToken") {
      const token =
        role === "adminToken"
          ? await mintToken(t.owner, t.org.id, { role: "admin" })
          : await mintToken(t.viewer, t.org.id, { role: "viewer" });
      actor = { type: "api_token", id: token.id };
      res = await withToken(h, token.secret, c.path(t, ids), init);
    } else {
      const caller: TestUser = t[role];
      actor = { type: "user", id: caller.user.id };
      res = await caller.request(c.path(t, ids), init);
    }
    const expected = c.expected[role];
    expect(res.status, await res.clone().text()).toBe(expected);
    const events = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.requestId, res.headers.get("x-request-id") ?? ""));
    if (expected < 300) {
      expect(events).toEqual([
        expect.objectContaining({
          actorType: actor.type,
          actorId: actor.id,
          action: c.action,
          outcome: "success",
          requestId: res.headers.get("x-request-id"),
          orgId: t.org.id,
        }),
      ]);
      expect(events[0]?.targetId).toBeTruthy();
    } else if (expected === 404) {
      // Nothing about targets the caller may not see reaches an organization's log.
      expect(events).toEqual([]);
    } else {
      // Refusals of visible targets are recorded: denied (403) or failure (409).
      expect(events).toEqual([
        expect.objectContaining({
          actorId: actor.id,
          action: c.action,
          outcome: expected === 403 ? "denied" : "failure",
          orgId: t.org.id,
        }),
      ]);
    }
    if (expected >= 400) {
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });
});
