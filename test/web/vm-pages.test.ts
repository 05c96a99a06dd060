import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, hosts, operations } from "../../src/db/schema";
import { vmFleet as fleet, hostReports } from "../support/fleet";
import { follow, get, html, partial, post } from "../support/pages";
import { createProject, okJson, type Team } from "../tenancy/fixtures";

async function createThroughApi(t: Team, imageId: string, name = "web-1") {
  const res = await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
    method: "POST",
    json: { name, imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
  });
  return (await okJson<{ vm: { id: string } }>(res, 202)).vm.id;
}

describe("VM pages", () => {
  it("sends anonymous visitors to sign-in", async () => {
    const { h, t } = await fleet();
    for (const path of [
      "/vms",
      `/projects/${t.project.id}/vms`,
      `/projects/${t.project.id}/vms/new`,
      "/vms/vm_x",
    ]) {
      const res = await h.request(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location")).toBe(`/sign-in?next=${encodeURIComponent(path)}`);
    }
  });

  it("/vms goes to the first project's list, or explains how to get one", async () => {
    const { h, t } = await fleet();
    const res = await get(t.member, "/vms");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/projects/${t.project.id}/vms`);
    const page = await html(await get(t.outsider, "/vms"));
    expect(page).toContain("No project yet");
    expect(page).toContain('href="/orgs/new"');
    expect(h).toBeDefined();
  });

  it("creates a VM through the form: 422 inline errors, then a redirect and the VM in the list", async () => {
    const { h, t, imageId } = await fleet();
    const form = await html(await get(t.member, `/projects/${t.project.id}/vms/new`));
    expect(form).toContain('id="vm-form"');
    expect(form).toContain("debian-13");
    expect(form).toContain('data-quota="VMs"');
    expect(form).toContain('data-placement="ok"');

    const bad = await post(
      t.member,
      `/projects/${t.project.id}/vms`,
      { name: "Bad Name!", imageId, size: "custom", vcpus: "1", memoryMb: "1000", diskGb: "10" },
      true,
    );
    const fragment = await html(bad, 422);
    expect(fragment).not.toContain("<html");
    expect(fragment).toContain('data-field-error="name"');
    expect(fragment).toContain('data-field-error="memoryMb"');
    expect(fragment).toContain("multiple of 128");
    expect(fragment).toContain('value="Bad Name!"');

    // Without htmx the same failure is the whole page, still 422.
    const whole = await html(
      await post(t.member, `/projects/${t.project.id}/vms`, {
        name: "ok-name",
        imageId,
        size: "custom",
        vcpus: "x",
        memoryMb: "1024",
        diskGb: "10",
      }),
      422,
    );
    expect(whole).toContain("<html");
    expect(whole).toContain('data-field-error="vcpus"');

    const ok = await post(
      t.member,
      `/projects/${t.project.id}/vms`,
      {
        name: "web-1",
        imageId,
        size: "small",
        sshKeys: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGV4YW1wbGU= me@laptop\n",
        userData: "#cloud-config\n",
      },
      true,
    );
    expect(ok.status).toBe(204);
    const location = ok.headers.get("hx-redirect") ?? "";
    expect(location).toMatch(/^\/vms\/vm_/);
    const detail = await html(await follow(h, t.member, ok, location));
    expect(detail).toContain("web-1");
    expect(detail).toContain("is being created");
    expect(detail).toContain("vm.create");

    const rows = await html(await partial(t.viewer, `/projects/${t.project.id}/vms`));
    expect(rows).not.toContain("<html");
    expect(rows).toContain('id="vm-rows"');
    expect(rows).toContain('hx-trigger="every 3s"');
    expect(rows).toContain(">web-1</a>");
  });

  it("refuses a create beyond the project's capacity with an inline reason", async () => {
    const { t, imageId } = await fleet();
    const res = await post(
      t.member,
      `/projects/${t.project.id}/vms`,
      { name: "huge", imageId, size: "custom", vcpus: "64", memoryMb: "131072", diskGb: "100" },
      true,
    );
    const text = await html(res, 409);
    expect(text).toContain("data-form-error");
  });

  it("lists, filters and pages VMs newest first", async () => {
    const { h, t, imageId } = await fleet();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      h.clock.advance(1000);
      ids.push(await createThroughApi(t, imageId, `vm-${i}`));
    }
    const first = await html(await get(t.viewer, `/projects/${t.project.id}/vms?limit=5`));
    expect(first.indexOf(">vm-6<")).toBeLessThan(first.indexOf(">vm-5<"));
    expect(first).toContain(">vm-2<");
    expect(first).not.toContain(">vm-1<");
    const next = /href="([^"]+cursor=[^"]+)"/.exec(first)?.[1]?.replaceAll("&amp;", "&");
    expect(next).toBeDefined();
    const second = await html(await get(t.viewer, next ?? ""));
    expect(second).toContain(">vm-1<");
    expect(second).toContain(">vm-0<");
    expect(second).not.toContain(">vm-6<");
    expect(second).not.toContain(">vm-2<");

    const byName = await html(await get(t.viewer, `/projects/${t.project.id}/vms?q=M-6`));
    expect(byName).toContain(">vm-6<");
    expect(byName).not.toContain(">vm-5<");

    await hostReports(h, ids[3] ?? "");
    const running = await html(await get(t.viewer, `/projects/${t.project.id}/vms?state=running`));
    expect(running).toContain(">vm-3<");
    expect(running).not.toContain(">vm-4<");
  });

  it("sorts the list by name or age, and the next page keeps the order", async () => {
    const { h, t, imageId } = await fleet();
    for (const name of ["delta", "alpha", "echo", "charlie", "bravo"]) {
      h.clock.advance(1000);
      await createThroughApi(t, imageId, name);
    }
    const base = `/projects/${t.project.id}/vms`;
    const order = (page: string) =>
      [...page.matchAll(/>(alpha|bravo|charlie|delta|echo)</g)].map((m) => m[1]);
    const first = await html(await get(t.viewer, `${base}?sort=name_asc&limit=3`));
    expect(order(first)).toEqual(["alpha", "bravo", "charlie"]);
    // The order is offered in the form, with the current one selected.
    expect(first).toMatch(/<option value="name_asc" selected[^>]*>Name A–Z<\/option>/);
    const next = /href="([^"]+cursor=[^"]+)"/.exec(first)?.[1]?.replaceAll("&amp;", "&") ?? "";
    expect(next).toContain("sort=name_asc");
    expect(order(await html(await get(t.viewer, next)))).toEqual(["delta", "echo"]);
    const oldest = await html(await get(t.viewer, `${base}?sort=created_asc`));
    expect(order(oldest)).toEqual(["delta", "alpha", "echo", "charlie", "bravo"]);
    // An unknown order falls back to newest first.
    const unknown = await html(await get(t.viewer, `${base}?sort=size`));
    expect(order(unknown)).toEqual(["bravo", "charlie", "echo", "alpha", "delta"]);
  });

  it("shows actions by permission and state; an action creates an operation", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    // While the create runs, actions wait.
    const busy = await html(await get(t.member, `/vms/${vmId}`));
    expect(busy).toContain("data-busy=");
    expect(busy).toContain('hx-trigger="every 3s"');
    await hostReports(h, vmId);

    const page = await html(await get(t.member, `/vms/${vmId}`));
    expect(page).toContain('data-live="false"');
    // Settled and running: it still refreshes, slowly (console, activity, crashes).
    expect(page).toContain('hx-trigger="every 15s"');
    expect(page).toContain('href="/vms" aria-current="page"');
    for (const action of ["stop", "restart", "pause"]) {
      expect(page).toContain(`action="/vms/${vmId}/${action}"`);
    }
    expect(page).not.toContain(`action="/vms/${vmId}/start"`);
    expect(page).not.toContain(`action="/vms/${vmId}/resume"`);
    expect(page).toContain(`href="/vms/${vmId}/delete"`);

    const viewerPage = await html(await get(t.viewer, `/vms/${vmId}`));
    expect(viewerPage).toContain("web-1");
    expect(viewerPage).not.toContain("data-action=");
    expect(viewerPage).not.toContain(`/vms/${vmId}/delete`);
    expect((await post(t.viewer, `/vms/${vmId}/stop`, {})).status).toBe(403);

    const outsider = await get(t.outsider, `/vms/${vmId}`);
    expect(outsider.status).toBe(404);
    expect(outsider.headers.get("content-type")).toContain("text/html");
    expect(await outsider.text()).toContain('data-problem-code="not_found"');

    const stop = await post(t.member, `/vms/${vmId}/stop`, {});
    expect(stop.status).toBe(303);
    expect(stop.headers.get("location")).toBe(`/vms/${vmId}`);
    const ops = await h.deps.db
      .select()
      .from(operations)
      .where(and(eq(operations.targetId, vmId), eq(operations.kind, "vm.stop")));
    expect(ops).toHaveLength(1);
    // Audited as the person's doing, with the page request's id.
    const [event] = await h.deps.db
      .select()
      .from(auditEvents)
      .where(
        and(
          eq(auditEvents.action, "vm.stop"),
          eq(auditEvents.targetId, vmId),
          eq(auditEvents.outcome, "success"),
        ),
      );
    expect(event).toMatchObject({
      actorType: "user",
      actorId: t.member.user.id,
      outcome: "success",
    });
    expect(event?.requestId).toMatch(/^req_/);
    const after = await html(await follow(h, t.member, stop, `/vms/${vmId}`));
    expect(after).toContain("Stopping web-1.");
    expect(after).toContain('data-state="stopping"');
    expect(after).toContain("vm.stop");

    // A second action while the stop runs is refused with a message, not an error page.
    const again = await post(t.member, `/vms/${vmId}/start`, {});
    expect(again.status).toBe(303);

    // The live part alone for htmx.
    const live = await html(await partial(t.member, `/vms/${vmId}`));
    expect(live).not.toContain("<html");
    expect(live).toContain('id="vm-live"');
  });

  it("cancels the operation under way from the VM's page; viewers get no button", async () => {
    const { h, t, hostId, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    await hostReports(h, vmId);
    await h.deps.db
      .update(hosts)
      .set({ status: { inventory: [{ id: vmId, state: "running" }] } })
      .where(eq(hosts.id, hostId));
    const stop = await post(t.member, `/vms/${vmId}/stop`, {});
    expect(stop.status).toBe(303);
    const [op] = await h.deps.db
      .select()
      .from(operations)
      .where(and(eq(operations.targetId, vmId), eq(operations.kind, "vm.stop")));
    if (!op) throw new Error("no stop operation");
    const cancelPath = `/vms/${vmId}/operations/${op.id}/cancel`;

    expect(await html(await get(t.viewer, `/vms/${vmId}`))).not.toContain(cancelPath);
    expect((await post(t.viewer, cancelPath, {})).status).toBe(403);
    const busy = await html(await get(t.member, `/vms/${vmId}`));
    expect(busy).toContain(`action="${cancelPath}"`);
    expect(busy).toContain('data-action="cancel-operation"');

    const res = await post(t.member, cancelPath, {});
    expect(res.status).toBe(303);
    const after = await html(await follow(h, t.member, res, `/vms/${vmId}`));
    expect(after).toContain("vm.stop cancelled.");
    expect(after).not.toContain("data-busy=");
    // The host never stopped it: it is running as before, and the actions are back.
    expect(after).toContain('data-state="running"');
    expect(after).toContain(`action="/vms/${vmId}/stop"`);
    // Cancelling a finished operation is a message, not an error page.
    const late = await post(t.member, `/vms/${vmId}/operations/${op.id}/cancel`, {});
    expect(late.status).toBe(303);
  });

  it("deletes after a confirmation page", async () => {
    const { h, t, imageId } = await fleet();
    const vmId = await createThroughApi(t, imageId);
    await hostReports(h, vmId);
    const confirm = await html(await get(t.member, `/vms/${vmId}/delete`));
    expect(confirm).toContain("Delete web-1?");
    expect(confirm).toContain(`action="/vms/${vmId}/delete"`);
    expect((await get(t.viewer, `/vms/${vmId}/delete`)).status).toBe(403);
    const res = await post(t.member, `/vms/${vmId}/delete`, {}, true);
    expect(res.status).toBe(204);
    expect(res.headers.get("hx-redirect")).toBe(`/projects/${t.project.id}/vms`);
    const [op] = await h.deps.db
      .select()
      .from(operations)
      .where(and(eq(operations.targetId, vmId), eq(operations.kind, "vm.delete")));
    expect(op).toBeDefined();
    // Once the host has deleted it, the polling detail page leaves for the VM list.
    await hostReports(h, vmId);
    const gone = await partial(t.member, `/vms/${vmId}`);
    expect(gone.status).toBe(204);
    expect(gone.headers.get("hx-redirect")).toBe("/vms");
    expect((await get(t.member, `/vms/${vmId}`)).status).toBe(404);
  });

  it("hides the create button from viewers and refuses them the form; outsiders get 404", async () => {
    const { t } = await fleet();
    const list = await html(await get(t.viewer, `/projects/${t.project.id}/vms`));
    expect(list).not.toContain(`href="/projects/${t.project.id}/vms/new"`);
    expect((await get(t.viewer, `/projects/${t.project.id}/vms/new`)).status).toBe(403);
    expect((await get(t.outsider, `/projects/${t.project.id}/vms`)).status).toBe(404);
    expect((await get(t.outsider, `/projects/${t.project.id}/vms/new`)).status).toBe(404);
    const member = await html(await get(t.member, `/projects/${t.project.id}/vms`));
    expect(member).toContain(`href="/projects/${t.project.id}/vms/new"`);
  });

  it("previews placement as a fragment, with the typed no_capacity reason", async () => {
    const { t } = await fleet();
    const ok = await html(
      await partial(t.member, `/projects/${t.project.id}/vms/placement?size=medium`),
    );
    expect(ok).toContain('data-placement="ok"');
    expect(ok).toContain("hv-");
    const full = await html(
      await partial(
        t.member,
        `/projects/${t.project.id}/vms/placement?size=custom&vcpus=8&memoryMb=65536&diskGb=10`,
      ),
    );
    expect(full).toContain('data-placement="memory"');
    const quota = await html(
      await partial(
        t.member,
        `/projects/${t.project.id}/vms/placement?size=custom&vcpus=64&memoryMb=1024&diskGb=3000`,
      ),
    );
    expect(quota).toContain('data-placement="quota"');
    expect((await partial(t.viewer, `/projects/${t.project.id}/vms/placement`)).status).toBe(403);
  });
});

describe("dashboard, images, quota and audit pages", () => {
  it("the dashboard counts VMs by state, hosts by health, quota usage and recent operations", async () => {
    const { h, t, imageId } = await fleet();
    const a = await createThroughApi(t, imageId, "a");
    await createThroughApi(t, imageId, "b");
    await hostReports(h, a);
    const page = await html(await get(t.member, "/"));
    expect(page).toContain("Welcome, Mia Member");
    expect(page).toMatch(/data-vm-count="running".*?>1</s);
    expect(page).toMatch(/data-vm-count="provisioning".*?>1</s);
    expect(page).toMatch(/data-host-health="healthy">1 healthy/);
    expect(page).toContain(`data-project-quota="${t.project.id}"`);
    expect(page).toContain("vm.create");
    expect(page).toContain(`href="/vms/${a}"`);
    // Org-aware links in the navigation.
    expect(page).toContain(`href="/orgs/${t.org.id}/images"`);
    expect(page).toContain(`href="/orgs/${t.org.id}/audit"`);

    const outsider = await html(await get(t.outsider, "/"));
    expect(outsider).toContain("No organization yet");
    expect(outsider).not.toContain("vm.create");
    expect(outsider).not.toContain("data-host-health");
  });

  it("the dashboard lists the ten newest operations across projects, newest first", async () => {
    const { h, t, imageId } = await fleet();
    const other = await createProject(t.owner, t.org.id, "Batch");
    const made: string[] = [];
    for (let i = 0; i < 12; i++) {
      const project = i % 2 === 0 ? t.project.id : other.id;
      const res = await t.owner.request(`/api/v1/projects/${project}/vms`, {
        method: "POST",
        json: { name: `vm-${i}`, imageId, vcpus: 1, memoryMb: 512, diskGb: 5 },
      });
      made.push((await okJson<{ vm: { id: string } }>(res, 202)).vm.id);
      h.clock.advance(1_000);
    }
    const page = await html(await get(t.member, "/"));
    const listed = [...page.matchAll(/href="\/vms\/(vm_[0-9a-z]+)"/g)].map((m) => m[1]);
    expect([...new Set(listed)]).toEqual(made.slice(2).reverse());
  });

  it("images: listed for members; added and deleted by admins only", async () => {
    const { h, t, imageId } = await fleet();
    const path = `/orgs/${t.org.id}/images`;
    const member = await html(await get(t.member, path));
    expect(member).toContain("debian-13");
    expect(member).not.toContain('id="image-form"');
    expect(member).not.toContain('data-action="delete-image"');
    expect((await get(t.outsider, path)).status).toBe(404);
    expect((await post(t.member, path, { name: "x" })).status).toBe(403);
    expect((await get(t.member, "/images")).headers.get("location")).toBe(path);

    const admin = await html(await get(t.admin, path));
    expect(admin).toContain('id="image-form"');
    expect(admin).toContain(`action="${path}/${imageId}/delete"`);

    const bad = await html(
      await post(
        t.admin,
        path,
        { name: "ubuntu", url: "ftp://x", sha256: "zz", format: "qcow2" },
        true,
      ),
      422,
    );
    expect(bad).toContain('data-field-error="url"');
    expect(bad).toContain('data-field-error="sha256"');
    const ok = await post(
      t.admin,
      path,
      {
        name: "ubuntu-24",
        url: "https://images.example/ubuntu.img",
        sha256: "d".repeat(64),
        format: "raw",
        minDiskGb: "5",
      },
      true,
    );
    expect(ok.headers.get("hx-redirect")).toBe(path);
    const after = await html(await follow(h, t.admin, ok, path));
    expect(after).toContain("ubuntu-24");
    expect(after).toContain("Image ubuntu-24 added.");

    // An image a VM was created from stays, with the reason as a message.
    await createThroughApi(t, imageId);
    const refused = await post(t.admin, `${path}/${imageId}/delete`, {});
    expect(refused.status).toBe(303);
    expect(await html(await follow(h, t.admin, refused, path))).toContain(
      "was created from this image",
    );
  });

  it("quota: usage for viewers, limits form for organization admins", async () => {
    const { h, t, imageId } = await fleet();
    await createThroughApi(t, imageId);
    const path = `/projects/${t.project.id}/quota`;
    const viewer = await html(await get(t.viewer, path));
    expect(viewer).toMatch(/data-quota="VMs".*?1 of 20/s);
    expect(viewer).not.toContain('id="quota-form"');
    expect((await post(t.member, path, { maxVms: "1" })).status).toBe(403);
    expect((await get(t.outsider, path)).status).toBe(404);

    const admin = await html(await get(t.admin, path));
    expect(admin).toContain('id="quota-form"');
    const bad = await html(
      await post(
        t.admin,
        path,
        { maxVms: "-1", maxVcpus: "x", maxMemoryMb: "1024", maxDiskGb: "10" },
        true,
      ),
      422,
    );
    expect(bad).toContain('data-field-error="maxVms"');
    expect(bad).toContain('data-field-error="maxVcpus"');
    const ok = await post(t.admin, path, {
      maxVms: "5",
      maxVcpus: "8",
      maxMemoryMb: "8192",
      maxDiskGb: "100",
    });
    expect(ok.status).toBe(303);
    expect(await html(await follow(h, t.admin, ok, path))).toMatch(/data-quota="VMs".*?1 of 5/s);
  });

  it("audit: filterable and paged for admins, refused to members, hidden from outsiders", async () => {
    const { t, imageId } = await fleet();
    for (const name of ["a", "b", "c"]) await createThroughApi(t, imageId, name);
    const path = `/orgs/${t.org.id}/audit`;
    const all = await html(await get(t.admin, path));
    expect(all).toContain("vm.create");
    expect(all).toContain("image.create");
    expect(all).toContain("Mia Member");

    const creates = await html(await get(t.admin, `${path}?action=vm.create&limit=2`));
    expect(creates).not.toContain(">image.create<");
    expect(creates.match(/>vm\.create</g)).toHaveLength(2);
    const next = /href="([^"]+cursor=[^"]+)"/.exec(creates)?.[1]?.replaceAll("&amp;", "&");
    expect(next).toContain("action=vm.create");
    const older = await html(await get(t.admin, next ?? ""));
    expect(older.match(/>vm\.create</g)).toHaveLength(1);

    const byActor = await html(await get(t.admin, `${path}?actor=${t.admin.user.id}`));
    expect(byActor).toContain(">image.create<");
    expect(byActor).not.toContain(">vm.create<");

    expect((await get(t.member, path)).status).toBe(403);
    expect((await get(t.outsider, path)).status).toBe(404);
    expect((await get(t.admin, "/audit")).headers.get("location")).toBe(path);
  });
});
