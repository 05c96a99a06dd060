import { hosts } from "../../src/db/schema";
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
