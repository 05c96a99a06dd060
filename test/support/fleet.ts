import { hosts } from "../../src/db/schema";
import type { Harness } from "./harness";

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
