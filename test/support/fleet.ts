import { eq } from "drizzle-orm";
import { authzTuples, hosts, workItems } from "../../src/db/schema";
import { applyVmResult } from "../../src/domain/vms/apply-result";
import type { ResultRequest } from "../../src/protocol/agent-api";
import { okJson, team } from "../tenancy/fixtures";
import { createHarness, type Harness } from "./harness";

/**
 * An approved, live, healthy host of an organization, as enrollment + approval + a heartbeat
 * would leave it (those flows have their own tests in test/agent).
 */
export async function approvedHost(
  h: Harness,
  orgId: string,
  facts: { cpus?: number; memoryGiB?: number; diskGB?: number } = {},
): Promise<string> {
  const id = h.deps.ids.next("host");
  const now = h.clock.now();
  await h.deps.db.insert(hosts).values({
    id,
    orgId,
    name: `hv-${id.slice(-4)}`,
    machineId: id,
    scope: "default",
    state: "approved",
    publicJwk: { kty: "OKP", crv: "Ed25519", x: id },
    keyThumbprint: id,
    facts: {
      cpus: facts.cpus ?? 8,
      memory_bytes: (facts.memoryGiB ?? 32) * 1024 ** 3,
      disk_bytes: (facts.diskGB ?? 500) * 1000 ** 3,
    },
    enrollmentTokenId: "test",
    replacesHostId: null,
    maintenance: false,
    reportedHealth: "healthy",
    status: null,
    clockOffsetMs: 0,
    lastSeenAt: now,
    lastStatusAt: now,
    decidedBy: null,
    decidedAt: now,
    createdAt: now,
    updatedAt: now,
  });
  await h.deps.db.insert(authzTuples).values({
    entityType: "host",
    entityId: id,
    relation: "org",
    subjectType: "organization",
    subjectId: orgId,
    subjectRelation: "",
    createdAt: now,
  });
  return id;
}

/** A team with an approved host and a `debian-13` image (min disk 2 GB) in its organization. */
export async function vmFleet(options?: Parameters<typeof createHarness>[0]) {
  const h = await createHarness(options);
  const t = await team(h);
  const hostId = await approvedHost(h, t.org.id);
  const image = await okJson<{ id: string }>(
    await t.admin.request(`/api/v1/organizations/${t.org.id}/images`, {
      method: "POST",
      json: {
        name: "debian-13",
        url: "https://images.example/debian-13.qcow2",
        sha256: "a".repeat(64),
        format: "qcow2",
        minDiskGb: 2,
      },
    }),
    201,
  );
  return { h, t, hostId, imageId: image.id };
}

/**
 * Plays the host's part: the agent reports the outcome of the VM's latest work item, as
 * `POST /api/v1/agent/items/{id}/result` applies it. Returns that item.
 */
export async function hostReports(
  h: Harness,
  vmId: string,
  outcome: "succeeded" | "failed" = "succeeded",
  /** What else the agent says: its error, and what it observed of the VM. */
  report: Pick<ResultRequest, "error" | "observed"> = {},
) {
  const items = await h.deps.db.select().from(workItems).where(eq(workItems.resourceId, vmId));
  const item = items.sort((a, b) => b.seq - a.seq)[0];
  if (!item) throw new Error(`no work item for ${vmId}`);
  await applyVmResult(h.deps, item, {
    lease_epoch: 1,
    attempt: 1,
    outcome,
    ...(outcome === "failed"
      ? { error: { code: "boot_failed", message: "the guest did not boot", retryable: false } }
      : {}),
    ...report,
  });
  return item;
}
