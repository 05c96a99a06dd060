import { eq, sql } from "drizzle-orm";
import { hosts, vms } from "../../db/schema";
import type { Deps } from "../../deps";
import { hostGraceUntil } from "../hosts/grace";
import { hostHealth } from "../hosts/health";
import { type HostCandidate, type Placement, placeVm, type Resources } from "../scheduler/place";

const MIB = 1024 * 1024;
const GB = 1000 * 1000 * 1000;

/**
 * The organization's hosts as scheduler candidates: capacity from the facts the agent reported,
 * usage from the live VMs placed on each. Only approved, healthy (or warning), non-maintenance
 * hosts are eligible; Unreachable/Offline ones never get new VMs.
 */
export async function hostCandidates(deps: Deps, orgId: string): Promise<HostCandidate[]> {
  const rows = await deps.db.select().from(hosts).where(eq(hosts.orgId, orgId));
  const usage = await deps.db
    .select({
      hostId: vms.hostId,
      vcpus: sql<number>`sum(${vms.vcpus})`,
      memoryMb: sql<number>`sum(${vms.memoryMb})`,
      diskGb: sql<number>`sum(${vms.diskGb})`,
    })
    .from(vms)
    .where(eq(vms.orgId, orgId))
    .groupBy(vms.hostId);
  const now = deps.clock.now();
  return rows.map((h) => {
    const facts = h.facts as { cpus?: number; memory_bytes?: number; disk_bytes?: number };
    const used = usage.find((u) => u.hostId === h.id);
    const health = hostHealth(h, now, deps.config.agent, hostGraceUntil(deps));
    return {
      id: h.id,
      eligible: !h.maintenance && (health === "healthy" || health === "warning"),
      capacity: {
        vcpus: facts.cpus ?? 0,
        memoryMb: Math.floor((facts.memory_bytes ?? 0) / MIB),
        diskGb: Math.floor((facts.disk_bytes ?? 0) / GB),
      },
      used: {
        vcpus: Number(used?.vcpus ?? 0),
        memoryMb: Number(used?.memoryMb ?? 0),
        diskGb: Number(used?.diskGb ?? 0),
      },
    };
  });
}

export async function placeInOrg(deps: Deps, orgId: string, want: Resources): Promise<Placement> {
  return placeVm(await hostCandidates(deps, orgId), want, deps.config.placement);
}
