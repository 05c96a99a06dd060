import type { AppLayoutProps } from "../../../templates/layouts/app";
import type { DashboardProps } from "../../../templates/pages/dashboard/dashboard";
import { listHosts } from "../../domain/hosts/list-hosts";
import type { ActiveSession } from "../../domain/identity/sessions";
import { orgRef } from "../../domain/orgs/shared";
import { getProjectQuota } from "../../domain/vms/quotas";
import { serviceContext } from "../../http/auth";
import type { Ctx } from "../../http/env";
import { formatTime } from "../console";
import { quotaView } from "../vms/form";
import { may } from "../vms/shared";
import { recentOperations, visibleProjects, vmCountsByState } from "./queries";

/** Projects whose quota the dashboard shows (the rest are on their own quota pages). */
const QUOTA_PROJECTS = 6;

/** What the dashboard covers for this user: the projects they see, the orgs whose hosts they see. */
export type DashboardScope = {
  projects: { id: string; name: string; orgId: string }[];
  hostOrgs: { id: string; name: string }[];
};

export async function dashboardScope(c: Ctx, layout: AppLayoutProps): Promise<DashboardScope> {
  const orgs = layout.switcher?.orgs ?? [];
  const projects = orgs.length === 0 ? [] : await visibleProjects(c);
  const hostOrgs = [];
  for (const org of orgs) {
    if (await may(c, orgRef(org.id), "view_hosts")) hostOrgs.push({ id: org.id, name: org.name });
  }
  return { projects, hostOrgs };
}

/** The dashboard's data within `scope`. */
export async function dashboardProps(
  c: Ctx,
  active: ActiveSession,
  layout: AppLayoutProps,
  scope: DashboardScope,
): Promise<DashboardProps> {
  const projectIds = scope.projects.map((p) => p.id);
  const [states, ops] = await Promise.all([
    vmCountsByState(c, projectIds),
    recentOperations(c.var.deps.db, projectIds),
  ]);
  const hosts: DashboardProps["hosts"] = [];
  for (const org of scope.hostOrgs) {
    const list = await listHosts(c.var.deps, org.id);
    if (list.length === 0) continue;
    const counts = new Map<string, number>();
    for (const h of list) counts.set(h.health, (counts.get(h.health) ?? 0) + 1);
    hosts.push({
      org: org.name,
      total: list.length,
      byHealth: [...counts].map(([health, count]) => ({ health, count })),
    });
  }
  const sc = serviceContext(c);
  // The current organization's projects first.
  const current = layout.switcher?.currentOrgId;
  const ordered = [...scope.projects].sort(
    (a, b) => Number(b.orgId === current) - Number(a.orgId === current),
  );
  const quotas: DashboardProps["quotas"] = [];
  for (const p of ordered.slice(0, QUOTA_PROJECTS)) {
    const { limits, usage } = await getProjectQuota(sc, p.id);
    quotas.push({ id: p.id, name: p.name, quota: quotaView(limits, usage) });
  }
  const first = ordered[0];
  return {
    name: active.user.displayName,
    orgs: layout.switcher?.orgs ?? [],
    vmStates: states,
    vmTotal: states.reduce((n, s) => n + s.count, 0),
    hosts,
    quotas,
    operations: ops.map((o) => ({
      id: o.id,
      kind: o.kind,
      status: o.status,
      vm: o.vmName !== null ? { id: o.targetId, name: o.vmName } : null,
      createdAt: formatTime(o.createdAt),
    })),
    firstProjectHref: first ? `/projects/${first.id}/vms` : null,
  };
}
