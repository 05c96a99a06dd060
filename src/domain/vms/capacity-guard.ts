import { sql } from "drizzle-orm";
import type { Database } from "../../db/database";
import { vms } from "../../db/schema";
import type { Statement } from "../context";
import type { Resources } from "../scheduler/place";
import { abortIf } from "../write-guard";
import type { QuotaLimits } from "./quotas";

/**
 * The last statement of a batch that reserves VM resources (a create, a resize): the project's
 * totals must stay within its quota and the host's within its allowance once the batch's own
 * writes are in. The checks before the batch read totals that a concurrent create may change
 * before it commits; this one sees them, and rolls the batch back (a stale write, made again).
 */
export function capacityGuard(
  db: Database,
  project: { id: string; limits: QuotaLimits },
  host: { id: string; allowance: Resources } | null,
): Statement {
  const { limits } = project;
  const overQuota = sql`(SELECT count(*) > ${limits.maxVms}
      OR coalesce(sum(${vms.vcpus}), 0) > ${limits.maxVcpus}
      OR coalesce(sum(${vms.memoryMb}), 0) > ${limits.maxMemoryMb}
      OR coalesce(sum(${vms.diskGb}), 0) > ${limits.maxDiskGb}
    FROM ${vms} WHERE ${vms.projectId} = ${project.id})`;
  if (!host) return abortIf(db, overQuota);
  const { allowance } = host;
  const overHost = sql`(SELECT coalesce(sum(${vms.vcpus}), 0) > ${allowance.vcpus}
      OR coalesce(sum(${vms.memoryMb}), 0) > ${allowance.memoryMb}
      OR coalesce(sum(${vms.diskGb}), 0) > ${allowance.diskGb}
    FROM ${vms} WHERE ${vms.hostId} = ${host.id})`;
  return abortIf(db, sql`${overQuota} OR ${overHost}`);
}
