import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hosts, vms } from "../../src/db/schema";
import type { Deps } from "../../src/deps";
import { ensureHostGrace } from "../../src/domain/hosts/grace";
import { listHosts } from "../../src/domain/hosts/list-hosts";
import { reconcile } from "../../src/domain/vms/reconcile";
import { approvedHost, hostReports } from "../support/fleet";
import { createHarness, type Harness } from "../support/harness";
import { okJson, team } from "../tenancy/fixtures";

/** A control plane process started anew on the same database (its own grace period). */
async function restarted(h: Harness): Promise<Deps> {
  const deps = { ...h.deps };
  await ensureHostGrace(deps);
  return deps;
}

async function runningVm(h: Harness, projectOwner: Awaited<ReturnType<typeof team>>) {
  const t = projectOwner;
  const image = await okJson<{ id: string }>(
    await t.admin.request(`/api/v1/organizations/${t.org.id}/images`, {
      method: "POST",
      json: {
        name: "d",
        url: "https://images.example/d.qcow2",
        sha256: "e".repeat(64),
        format: "qcow2",
      },
    }),
    201,
  );
  const { vm } = await okJson<{ vm: { id: string } }>(
    await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "web-1", imageId: image.id, vcpus: 1, memoryMb: 512, diskGb: 5 },
    }),
    202,
  );
  await hostReports(h, vm.id);
  return vm.id;
}

const stateOf = async (h: Harness, vmId: string) =>
  (await h.deps.db.select().from(vms).where(eq(vms.id, vmId)))[0]?.observedState;

describe("restart grace period", () => {
  it("after a control-plane outage, silent hosts keep their health for one more window", async () => {
    const h = await createHarness();
    const t = await team(h);
    const hostId = await approvedHost(h, t.org.id);
    const vmId = await runningVm(h, t);

    // The control plane is down for 10 minutes: nobody could report.
    h.clock.advance(10 * 60_000);
    const fresh = await restarted(h);
    expect((await listHosts(fresh, t.org.id))[0]).toMatchObject({ id: hostId, health: "healthy" });
    // The process that never went away knows better: to it the host is silent.
    expect((await listHosts(h.deps, t.org.id))[0]?.health).toBe("offline");
    await reconcile(fresh);
    expect(await stateOf(h, vmId)).toBe("running");

    // The host does not come back within the window: now it is what its silence says.
    h.clock.advance(h.deps.config.agent.unreachableAfterMs + 1);
    expect((await listHosts(fresh, t.org.id))[0]?.health).toBe("offline");
    await reconcile(fresh);
    expect(await stateOf(h, vmId)).toBe("unknown");
  });

  it("no grace when other hosts were reporting (the control plane was up): silence counts", async () => {
    const h = await createHarness();
    const t = await team(h);
    const silent = await approvedHost(h, t.org.id);
    h.clock.advance(10 * 60_000);
    const alive = await approvedHost(h, t.org.id);
    await h.deps.db.update(hosts).set({ lastSeenAt: h.clock.now() }).where(eq(hosts.id, alive));
    const fresh = await restarted(h);
    const health = new Map((await listHosts(fresh, t.org.id)).map((x) => [x.id, x.health]));
    expect(health.get(silent)).toBe("offline");
    expect(health.get(alive)).toBe("healthy");
  });
});
