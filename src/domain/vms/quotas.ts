import { eq, sql } from "drizzle-orm";
import { projectQuotas, vms } from "../../db/schema";
import type { Deps } from "../../deps";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { projectRef } from "../orgs/shared";
import { loadProject } from "../projects/shared";

export type QuotaLimits = {
  maxVms: number;
  maxVcpus: number;
  maxMemoryMb: number;
  maxDiskGb: number;
};
export type QuotaUsage = { vms: number; vcpus: number; memoryMb: number; diskGb: number };

/** Limits of a project without its own row; operators change them per project. */
export const DEFAULT_QUOTA: QuotaLimits = {
  maxVms: 20,
  maxVcpus: 64,
  maxMemoryMb: 128 * 1024,
  maxDiskGb: 2000,
};

export async function projectQuota(
  deps: Deps,
  projectId: string,
): Promise<{ limits: QuotaLimits; usage: QuotaUsage }> {
  const [row] = await deps.db
    .select()
    .from(projectQuotas)
    .where(eq(projectQuotas.projectId, projectId))
    .limit(1);
  const [used] = await deps.db
    .select({
      vms: sql<number>`count(*)`,
      vcpus: sql<number>`coalesce(sum(${vms.vcpus}), 0)`,
      memoryMb: sql<number>`coalesce(sum(${vms.memoryMb}), 0)`,
      diskGb: sql<number>`coalesce(sum(${vms.diskGb}), 0)`,
    })
    .from(vms)
    .where(eq(vms.projectId, projectId));
  return {
    limits: row
      ? {
          maxVms: row.maxVms,
          maxVcpus: row.maxVcpus,
          maxMemoryMb: row.maxMemoryMb,
          maxDiskGb: row.maxDiskGb,
        }
      : DEFAULT_QUOTA,
    usage: {
      vms: Number(used?.vms ?? 0),
      vcpus: Number(used?.vcpus ?? 0),
      memoryMb: Number(used?.memoryMb ?? 0),
      diskGb: Number(used?.diskGb ?? 0),
    },
  };
}

export type QuotaShortfall = {
  resource: "vms" | "vcpus" | "memory" | "disk";
  limit: number;
  used: number;
  requested: number;
};

/** The first limit that `want` (added to `usage`) would exceed, or null if it fits. */
export function quotaShortfall(
  limits: QuotaLimits,
  usage: QuotaUsage,
  want: { vms: number; vcpus: number; memoryMb: number; diskGb: number },
): QuotaShortfall | null {
  if (usage.vms + want.vms > limits.maxVms)
    return { resource: "vms", limit: limits.maxVms, used: usage.vms, requested: want.vms };
  if (usage.vcpus + want.vcpus > limits.maxVcpus)
    return { resource: "vcpus", limit: limits.maxVcpus, used: usage.vcpus, requested: want.vcpus };
  if (usage.memoryMb + want.memoryMb > limits.maxMemoryMb) {
    return {
      resource: "memory",
      limit: limits.maxMemoryMb,
      used: usage.memoryMb,
      requested: want.memoryMb,
    };
  }
  if (usage.diskGb + want.diskGb > limits.maxDiskGb)
    return {
      resource: "disk",
      limit: limits.maxDiskGb,
      used: usage.diskGb,
      requested: want.diskGb,
    };
  return null;
}

/** Sets a project's limits (organization admins); lowering below current usage blocks new VMs only. */
async function setProjectQuotaInner(
  sc: ServiceContext,
  projectId: string,
  limits: QuotaLimits,
): Promise<void> {
  await authorizeActor(sc, projectRef(projectId), "manage_quotas");
  const project = await loadProject(sc.deps, projectId);
  const updatedAt = sc.deps.clock.now();
  await commit(sc.deps.db, [
    sc.deps.db
      .insert(projectQuotas)
      .values({ projectId, ...limits, updatedAt })
      .onConflictDoUpdate({ target: projectQuotas.projectId, set: { ...limits, updatedAt } }),
    auditStatement(sc, {
      action: "project.set_quota",
      target: projectRef(projectId),
      orgId: project.orgId,
      detail: limits,
    }),
  ]);
}

/** A project's quota for those who may see the project. */
export async function getProjectQuota(sc: ServiceContext, projectId: string) {
  await authorizeActor(sc, projectRef(projectId), "view");
  await loadProject(sc.deps, projectId);
  return projectQuota(sc.deps, projectId);
}

/** setProjectQuota with its refusals (403, 409) recorded in the audit log too. */
export function setProjectQuota(
  sc: ServiceContext,
  projectId: string,
  limits: QuotaLimits,
): Promise<void> {
  return auditRefusals(
    sc,
    {
      action: "project.set_quota",
      target: projectRef(projectId),
      orgId: async () => (await loadProject(sc.deps, projectId)).orgId,
    },
    () => setProjectQuotaInner(sc, projectId, limits),
  );
}
