import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, enrollmentTokens, hosts, workItems } from "../../src/db/schema";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { enrollHost, FACTS } from "../agent/support";
import type { TestUser } from "../support/actors";
import { createHarness, type Harness } from "../support/harness";
import { follow, get, html, post } from "../support/pages";
import { okJson, type Team, team } from "../tenancy/fixtures";

const HTMX = true;

/** The refused attempts in the audit log as "who what", sorted. */
async function deniedAttempts(h: Harness) {
  const rows = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.outcome, "denied"));
  return rows.map((e) => `${e.actorId} ${e.action}`).sort();
}
const SHA = "b".repeat(64);

/** Mints a token through the page (htmx) and returns the secret shown once, and the fragment. */
async function mintThroughPage(t: Team, description = "rack 4") {
  const fragment = await html(
    await post(t.admin, `/orgs/${t.org.id}/enrollment-tokens`, { description, maxUses: "2" }, HTMX),
    201,
  );
  const secret = /aria-label="Enrollment token" value="([^"]+)"/.exec(fragment)?.[1] ?? "";
  expect(secret).toMatch(/^strato_enr_/);
  return { secret, fragment };
}

/** A host that enrolled with a token minted on the page: pending, as the agent leaves it. */
async function pendingHost(h: Harness, t: Team, hostname = "hv-01") {
  const { secret } = await mintThroughPage(t);
  const { res } = await enrollHost(h, secret, {
    ...FACTS,
    hostname,
    machine_id: `${hostname}-machine`,
    ch_version: "44.0",
  });
  const { host_id: hostId } = await okJson<{ host_id: string }>(res, 201);
  return hostId;
}

/** Approves a host through the page and marks it live and healthy, as a status report would. */
async function liveHost(h: Harness, t: Team, hostname = "hv-01") {
  const hostId = await pendingHost(h, t, hostname);
  expect((await post(t.admin, `/hosts/${hostId}/approve`, {})).status).toBe(303);
  const now = h.clock.now();
  await h.deps.db
    .update(hosts)
    .set({
      reportedHealth: "warning",
      lastSeenAt: now,
      lastStatusAt: now,
      status: { health: "warning", problems: ["disk /var is 91% full"], journal_backlog: 0 },
    })
    .where(eq(hosts.id, hostId));
  return hostId;
}

async function hostRow(h: Harness, hostId: string) {
  const [row] = await h.deps.db.select().from(hosts).where(eq(hosts.id, hostId));
  if (!row) throw new Error(`no host ${hostId}`);
  return row;
}

async function flashAfter(h: Harness, user: TestUser, res: Response, location: string) {
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe(location);
  return html(await follow(h, user, res, location));
}

describe("host pages", () => {
  it("sends anonymous visitors to sign-in", async () => {
    const h = await createHarness();
    for (const path of ["/hosts", "/orgs/org_x/hosts", "/hosts/host_x", "/hosts/host_x/revoke"]) {
      const res = await h.request(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location")).toBe(`/sign-in?next=${encodeURIComponent(path)}`);
    }
  });

  it("/hosts goes to the current organization's hosts, and the navigation links there", async () => {
    const h = await createHarness();
    const t = await team(h);
    const res = await get(t.admin, "/hosts");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/orgs/${t.org.id}/hosts`);
    const page = await html(await get(t.admin, `/orgs/${t.org.id}/hosts`));
    expect(page).toContain(`href="/orgs/${t.org.id}/hosts" aria-current="page"`);
    // Only the most specific link is current, not the organization's own page above it.
    expect(page).not.toContain(`href="/orgs/${t.org.id}" aria-current="page"`);
    expect(page).toContain("No hosts yet");
  });

  it("lists hosts with state, health, capacity and last seen; pending ones first", async () => {
    const h = await createHarness();
    const t = await team(h);
    const live = await liveHost(h, t, "hv-live");
    h.clock.advance(1000);
    const waiting = await pendingHost(h, t, "hv-new");
    // A VM placed on the live host takes part of its capacity.
    const image = await okJson<{ id: string }>(
      await t.admin.request(`/api/v1/organizations/${t.org.id}/images`, {
        method: "POST",
        json: {
          name: "debian-13",
          url: "https://images.example/d.qcow2",
          sha256: SHA,
          format: "qcow2",
        },
      }),
      201,
    );
    await okJson(
      await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
        method: "POST",
        json: { name: "web-1", imageId: image.id, vcpus: 4, memoryMb: 8192, diskGb: 10 },
      }),
      202,
    );

    const page = await html(await get(t.admin, `/orgs/${t.org.id}/hosts`));
    const liveRow = page.slice(page.indexOf(`data-key="${live}"`));
    expect(liveRow).toMatch(/data-host-state="approved"/);
    expect(liveRow).toMatch(/data-health="warning"/);
    expect(liveRow).toMatch(/vCPUs<\/span><span[^>]*>4 of 16</);
    expect(liveRow).toMatch(/Memory<\/span><span[^>]*>8 GiB of 64 GiB</);
    expect(liveRow).toContain(new Date(h.clock.now() - 1000).toISOString().slice(0, 10));
    // Pending first, with its decision buttons; the approved one has none.
    expect(page.indexOf(`data-key="${waiting}"`)).toBeLessThan(page.indexOf(`data-key="${live}"`));
    expect(page).toContain(`action="/hosts/${waiting}/approve"`);
    expect(page).toContain(`action="/hosts/${waiting}/reject"`);
    expect(page).not.toContain(`action="/hosts/${live}/approve"`);

    // The detail page: facts, reported problems and the work item the VM created.
    const detail = await html(await get(t.member, `/hosts/${live}`));
    expect(detail).toContain("hv-live-machine");
    expect(detail).toContain("44.0");
    expect(detail).toContain("6.8.0");
    expect(detail).toContain("disk /var is 91% full");
    const [item] = await h.deps.db.select().from(workItems).where(eq(workItems.hostId, live));
    expect(item).toBeDefined();
    expect(detail).toContain(`data-key="${item?.id}"`);
    expect(detail).toContain(item?.op ?? "?");

    // Leased, and held by the agent until the item it runs after finishes: shown as blocked.
    if (!item) return;
    await h.deps.db.update(workItems).set({ state: "leased" }).where(eq(workItems.id, item.id));
    const status = { ...(await hostRow(h, live)).status };
    await h.deps.db
      .update(hosts)
      .set({ status: { ...status, blocked: [{ item_id: item.id, after: ["wi_0other"] }] } })
      .where(eq(hosts.id, live));
    const held = await html(await get(t.member, `/hosts/${live}`));
    const row = held.slice(held.indexOf(`data-key="${item.id}"`));
    expect(row).toContain('data-work-state="blocked"');
    expect(row.indexOf('data-work-state="blocked"')).toBeLessThan(row.indexOf("</tr>"));
  });

  it("approves a pending host through the page", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await pendingHost(h, t);
    const detail = await html(await get(t.admin, `/hosts/${hostId}`));
    expect(detail).toContain('data-action="approve"');
    expect(detail).not.toContain('data-action="disable"');

    const res = await post(t.admin, `/hosts/${hostId}/approve`, {
      back: `/orgs/${t.org.id}/hosts`,
    });
    const back = await flashAfter(h, t.admin, res, `/orgs/${t.org.id}/hosts`);
    expect(back).toContain("Host approved.");
    expect(back).toContain('data-host-state="approved"');
    expect((await hostRow(h, hostId)).state).toBe("approved");

    // Rejecting it now is a conflict explained on the page; the state stays.
    const again = await post(t.admin, `/hosts/${hostId}/reject`, {});
    expect(await flashAfter(h, t.admin, again, `/hosts/${hostId}`)).toContain(
      "This host is approved; only a pending host can be rejected.",
    );
    expect((await hostRow(h, hostId)).state).toBe("approved");
  });

  it("toggles maintenance, disables and revokes after a confirmation page", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await liveHost(h, t);
    const on = await post(t.admin, `/hosts/${hostId}/maintenance`, { enabled: "true" });
    const drained = await flashAfter(h, t.admin, on, `/hosts/${hostId}`);
    expect(drained).toContain("Maintenance started");
    expect(drained).toContain("data-maintenance");
    expect(drained).toContain('data-action="maintenance-off"');
    expect((await hostRow(h, hostId)).maintenance).toBe(true);

    const off = await post(t.admin, `/hosts/${hostId}/maintenance`, { enabled: "false" });
    expect(await flashAfter(h, t.admin, off, `/hosts/${hostId}`)).toContain("Maintenance ended.");
    expect((await hostRow(h, hostId)).maintenance).toBe(false);

    const disabled = await post(t.admin, `/hosts/${hostId}/disable`, {});
    expect(await flashAfter(h, t.admin, disabled, `/hosts/${hostId}`)).toContain(
      'data-action="enable"',
    );

    const confirm = await html(await get(t.admin, `/hosts/${hostId}/revoke`));
    expect(confirm).toContain("This cannot be undone");
    expect(confirm).toContain(`action="/hosts/${hostId}/revoke"`);
    const revoked = await post(t.admin, `/hosts/${hostId}/revoke`, {});
    expect(await flashAfter(h, t.admin, revoked, `/hosts/${hostId}`)).toContain("Host revoked.");
    expect((await hostRow(h, hostId)).state).toBe("revoked");
  });

  it("shows an enrollment token's secret once, with the enroll command, never in the list", async () => {
    const h = await createHarness();
    const t = await team(h);
    const bad = await html(
      await post(
        t.admin,
        `/orgs/${t.org.id}/enrollment-tokens`,
        { description: "", maxUses: "x" },
        HTMX,
      ),
      422,
    );
    expect(bad).toMatch(/id="field-description"[^>]*aria-invalid="true"/);
    expect(bad).not.toContain("<html");
    expect(await h.deps.db.select().from(enrollmentTokens)).toEqual([]);

    const { secret, fragment } = await mintThroughPage(t, "rack 4");
    expect(fragment).not.toContain("<html");
    expect(fragment).toContain(
      `strato-agent enroll --url ${h.deps.config.webauthn.origin} --token ${secret} --state-dir /var/lib/strato-agent`,
    );
    expect(fragment).toContain("rack 4");

    const page = await html(await get(t.admin, `/orgs/${t.org.id}/hosts`));
    expect(page).toContain("rack 4");
    expect(page).toContain(secret.slice(0, 17));
    expect(page).not.toContain(secret);
    expect(page).not.toContain("strato-agent enroll");

    const [token] = await h.deps.db.select().from(enrollmentTokens);
    const revoked = await post(
      t.admin,
      `/orgs/${t.org.id}/enrollment-tokens/${token?.id}/revoke`,
      {},
    );
    const after = await flashAfter(h, t.admin, revoked, `/orgs/${t.org.id}/hosts`);
    expect(after).toContain("Enrollment token revoked.");
    expect(after).not.toContain(`/enrollment-tokens/${token?.id}/revoke`);
    const { res } = await enrollHost(h, secret);
    expect(res.status).toBe(401);
  });

  it("cancels a queued work item from the detail page; members may not", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await liveHost(h, t);
    const item = await enqueueWork(h.deps, {
      hostId,
      op: "host.noop",
      resource: { kind: "host", id: hostId, uid: hostId },
      createdBy: "test",
    });
    const rowOf = (page: string) => {
      const row = page.slice(page.indexOf(`data-key="${item.id}"`));
      return row.slice(0, row.indexOf("</tr>"));
    };
    const detail = await html(await get(t.admin, `/hosts/${hostId}`));
    expect(rowOf(detail)).toContain('data-action="cancel-work"');
    const open = await html(await get(t.admin, `/hosts/${hostId}/work-items/${item.id}`));
    expect(open).toContain('data-work-state="queued"');
    expect(open).toContain(`action="/hosts/${hostId}/work-items/${item.id}/cancel"`);
    expect(await html(await get(t.member, `/hosts/${hostId}/work-items/${item.id}`))).not.toContain(
      'data-action="cancel-work"',
    );
    expect(rowOf(detail)).toContain(`action="/hosts/${hostId}/work-items/${item.id}/cancel"`);

    const refused = await post(t.member, `/hosts/${hostId}/work-items/${item.id}/cancel`, {});
    expect(await flashAfter(h, t.member, refused, `/hosts/${hostId}`)).toContain(
      "You may not operate this host.",
    );
    expect(
      (await h.deps.db.select().from(workItems).where(eq(workItems.id, item.id)))[0]?.state,
    ).toBe("queued");

    const res = await post(t.admin, `/hosts/${hostId}/work-items/${item.id}/cancel`, {});
    const after = await flashAfter(h, t.admin, res, `/hosts/${hostId}`);
    expect(after).toContain("Cancellation requested");
    expect(rowOf(after)).toContain('data-work-state="cancelled"');
    expect(rowOf(after)).not.toContain('data-action="cancel-work"');

    // The item's own page: its facts and its log, the host's "task log".
    expect(rowOf(after)).toContain(`href="/hosts/${hostId}/work-items/${item.id}"`);
    const itemPage = await html(await get(t.member, `/hosts/${hostId}/work-items/${item.id}`));
    expect(itemPage).toContain('data-work-state="cancelled"');
    expect(itemPage).toContain('data-event="enqueued"');
    expect(itemPage).toContain("queued for the host");
    expect(itemPage).toContain('data-event="cancel_requested"');
    expect(itemPage).not.toContain('data-action="cancel-work"');
    await html(await get(t.outsider, `/hosts/${hostId}/work-items/${item.id}`), 404);

    // Once it ended, cancelling is explained, not an error page.
    const again = await post(t.admin, `/hosts/${hostId}/work-items/${item.id}/cancel`, {});
    expect(again.status).toBe(303);
    const other = await post(
      t.admin,
      `/hosts/${hostId}/work-items/wi_${"0".repeat(26)}/cancel`,
      {},
    );
    expect(await flashAfter(h, t.admin, other, `/hosts/${hostId}`)).toContain("has no work item");
  });

  it("members and viewers see hosts but no buttons, and their posts change nothing", async () => {
    const h = await createHarness();
    const t = await team(h);
    const pending = await pendingHost(h, t, "hv-wait");
    const live = await liveHost(h, t, "hv-live");
    for (const user of [t.member, t.viewer]) {
      const list = await html(await get(user, `/orgs/${t.org.id}/hosts`));
      expect(list).toContain("hv-wait");
      expect(list).not.toContain("data-action=");
      expect(list).not.toContain('id="enrollment-token-form"');
      const detail = await html(await get(user, `/hosts/${live}`));
      expect(detail).toContain("hv-live");
      expect(detail).not.toContain("data-action=");
      await html(await get(user, `/hosts/${live}/revoke`), 403);

      const approve = await post(user, `/hosts/${pending}/approve`, {});
      expect(await flashAfter(h, user, approve, `/hosts/${pending}`)).toContain(
        "You may not approve this host.",
      );
      const drain = await post(user, `/hosts/${live}/maintenance`, { enabled: "true" });
      expect(await flashAfter(h, user, drain, `/hosts/${live}`)).toContain(
        "You may not operate this host.",
      );
      const revoke = await post(user, `/hosts/${live}/revoke`, {});
      expect(await flashAfter(h, user, revoke, `/hosts/${live}`)).toContain(
        "You may not delete this host.",
      );
      await html(
        await post(user, `/orgs/${t.org.id}/enrollment-tokens`, { description: "mine" }, HTMX),
        403,
      );
    }
    expect((await hostRow(h, pending)).state).toBe("pending");
    expect(await hostRow(h, live)).toMatchObject({ state: "approved", maintenance: false });
    expect((await h.deps.db.select().from(enrollmentTokens)).map((t) => t.description)).toEqual([
      "rack 4",
      "rack 4",
    ]);
    // Refused in the console as in the API: each attempt is in the organization's audit log.
    const refused = [
      "host.approve",
      "host.maintenance_on",
      "host.revoke",
      "enrollment_token.create",
    ];
    expect(await deniedAttempts(h)).toEqual(
      [t.member, t.viewer]
        .flatMap((user) => refused.map((action) => `${user.user.id} ${action}`))
        .sort(),
    );
  });

  it("outsiders get 404 pages and their posts change nothing", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await pendingHost(h, t, "hv-secret");
    const list = await html(await get(t.outsider, `/orgs/${t.org.id}/hosts`), 404);
    expect(list).not.toContain(t.org.name);
    expect(await html(await get(t.outsider, `/hosts/${hostId}`), 404)).not.toContain("hv-secret");
    await html(await get(t.outsider, `/hosts/${hostId}/revoke`), 404);
    await html(await post(t.outsider, `/hosts/${hostId}/approve`, {}), 404);
    await html(
      await post(t.outsider, `/orgs/${t.org.id}/enrollment-tokens`, { description: "x" }),
      404,
    );
    expect((await hostRow(h, hostId)).state).toBe("pending");
    // Guesses at what they may not see are not told to the organization's log.
    expect(await deniedAttempts(h)).toEqual([]);
  });
});
