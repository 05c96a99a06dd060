import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hosts } from "../../src/db/schema";
import { ensureHostGrace } from "../../src/domain/hosts/grace";
import { listHosts } from "../../src/domain/hosts/list-hosts";
import { runPeriodicJobs } from "../../src/domain/periodic";
import { approvedHost } from "../support/fleet";
import { createHarness, type Harness } from "../support/harness";
import { okJson, type Team, team } from "../tenancy/fixtures";

type AuditPage = {
  items: { action: string; targetId: string; actorType: string; detail: unknown }[];
};

/** The host's liveness audit events (grouped by action), via the REST API. */
async function livenessEvents(t: Team, hostId: string) {
  const actions = ["host.unreachable", "host.offline", "host.online"];
  const found: AuditPage["items"] = [];
  for (const action of actions) {
    const page = await okJson<AuditPage>(
      await t.admin.request(`/api/v1/organizations/${t.org.id}/audit-events?action=${action}`),
    );
    found.push(...page.items.filter((e) => e.targetId === hostId));
  }
  return found;
}

const heartbeat = (h: Harness, hostId: string) =>
  h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() }).where(eq(hosts.id, hostId));

/**
 * Design §2.12 / §4.2 rows 15–16: health is derived when read, and the periodic sweep records
 * each liveness change once (audit event by the system, a log line; Offline as an alert).
 */
describe("host liveness sweep", () => {
  it("records unreachable at 30 s, offline at 300 s with an alert, and the way back, once each", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await approvedHost(h, t.org.id);
    await runPeriodicJobs(h.deps);
    expect(await livenessEvents(t, hostId)).toEqual([]);

    h.clock.advance(h.deps.config.agent.unreachableAfterMs + 1_000);
    await runPeriodicJobs(h.deps);
    await runPeriodicJobs(h.deps);
    expect(await livenessEvents(t, hostId)).toMatchObject([
      { action: "host.unreachable", actorType: "system", detail: { from: "online", silent_s: 31 } },
    ]);

    h.clock.advance(h.deps.config.agent.offlineAfterMs);
    await runPeriodicJobs(h.deps);
    const offline = (await livenessEvents(t, hostId)).filter((e) => e.action === "host.offline");
    expect(offline).toMatchObject([{ detail: { from: "unreachable" } }]);
    expect(
      h.logs.entries.find((e) => e.message === "host lost: offline" && e.hostId === hostId),
    ).toMatchObject({ level: "warn", alert: true });

    // The first liveness after that shows at once in the derived health; the sweep records it.
    await heartbeat(h, hostId);
    expect((await listHosts(h.deps, t.org.id))[0]).toMatchObject({ id: hostId, health: "healthy" });
    await runPeriodicJobs(h.deps);
    await runPeriodicJobs(h.deps);
    expect((await livenessEvents(t, hostId)).map((e) => e.action).sort()).toEqual([
      "host.offline",
      "host.online",
      "host.unreachable",
    ]);
    const [row] = await h.deps.db.select().from(hosts).where(eq(hosts.id, hostId));
    expect(row).toMatchObject({ liveness: "online", livenessChangedAt: h.clock.now() });
  });

  it("a control plane back from an outage does not record its silent hosts as lost (grace)", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await approvedHost(h, t.org.id);
    h.clock.advance(10 * 60_000);
    const fresh = { ...h.deps };
    await ensureHostGrace(fresh);
    await runPeriodicJobs(fresh);
    expect(await livenessEvents(t, hostId)).toEqual([]);
    // The host reports within the grace window: nothing to record, ever.
    await heartbeat(h, hostId);
    h.clock.advance(h.deps.config.agent.unreachableAfterMs + 1_000);
    await heartbeat(h, hostId);
    await runPeriodicJobs(fresh);
    expect(await livenessEvents(t, hostId)).toEqual([]);
  });

  it("a host recorded offline is not reported back online while the grace hides its silence", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await approvedHost(h, t.org.id);
    h.clock.advance(10 * 60_000);
    await runPeriodicJobs(h.deps);
    expect((await livenessEvents(t, hostId)).map((e) => e.action)).toEqual(["host.offline"]);
    // The control plane restarts; the host is still silent.
    const restarted = { ...h.deps };
    await ensureHostGrace(restarted);
    await runPeriodicJobs(restarted);
    h.clock.advance(h.deps.config.agent.unreachableAfterMs + 1_000);
    await runPeriodicJobs(restarted);
    expect((await livenessEvents(t, hostId)).map((e) => e.action)).toEqual(["host.offline"]);
  });

  it("hosts that are not approved, or never seen, are not swept", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await approvedHost(h, t.org.id);
    await h.deps.db.update(hosts).set({ state: "disabled" }).where(eq(hosts.id, hostId));
    const unseen = await approvedHost(h, t.org.id);
    await h.deps.db.update(hosts).set({ lastSeenAt: null }).where(eq(hosts.id, unseen));
    h.clock.advance(h.deps.config.agent.offlineAfterMs * 2);
    await runPeriodicJobs(h.deps);
    expect(await livenessEvents(t, hostId)).toEqual([]);
    expect(await livenessEvents(t, unseen)).toEqual([]);
  });
});
