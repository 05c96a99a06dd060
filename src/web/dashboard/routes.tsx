import type { Context } from "hono";
import { DashboardPage, type DashboardProps } from "../../../templates/pages/dashboard/dashboard";
import { listHosts } from "../../domain/hosts/list-hosts";
import type { ActiveSession } from "../../domain/identity/sessions";
import { orgRef } from "../../domain/orgs/shared";
import { getProjectQuota } from "../../domain/vms/quotas";
import { serviceContext } from "../../http/auth";
import type { AppEnv } from "../../http/env";
import { consoleLayout, formatTime } from "../console";
import { renderPage } from "../render";
import { quotaView } from "../vms/form";
import { may } from "../vms/shared";
import { recentOperations, visibleProjects, vmCountsByState } from "./queries";

/** Projects whose quota the dashboard shows (the rest are on their own quota pages). */
const QUOTA_PROJECTS = 6;

/** The signed-in landing page (`/`); anonymous visitors are sent on by the caller. */
export async function renderDashboard(c: Context<AppEnv>, active: ActiveSession) {
  const layout = await consoleLayout(c, active);
  const orgs = layout.switcher?.orgs ?? [];
  const projects = orgs.length === 0 ? [] : await visibleProjects(c);
  const projectIds = projects.map((p) => p.id);
  const [states, ops] = await Promise.all([
    vmCountsByState(c, projectIds),
    recentOperations(c, projectIds),
  ]);
  const hosts: DashboardProps["hosts"] = [];
  for (const org of orgs) {
    if (!(await may(c, orgRef(org.id), "view_hosts"))) continue;
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
  const ordered = [...projects].sort(
    (a, b) => Number(b.orgId === current) - Number(a.orgId === current),
  );
  const quotas: DashboardProps["quotas"] = [];
  for (const p of ordered.slice(0, QUOTA_PROJECTS)) {
    const { limits, usage } = await getProjectQuota(sc, p.id);
    quotas.push({ id: p.id, name: p.name, quota: quotaView(limits, usage) });
  }
  const first = ordered[0];
  return renderPage(c, {
    title: "Dashboard",
    layout,
    body: (
      <DashboardPage
        name={active.user.displayName}
        orgs={orgs}
        vmStates={states}
        vmTotal={states.reduce((n, s) => n + s.count, 0)}
        hosts={hosts}
        quotas={quotas}
        operations={ops.map((o) => ({
          id: o.id,
          kind: o.kind,
          status: o.status,
          vm: o.vmName !== null ? { id: o.targetId, name: o.vmName } : null,
          createdAt: formatTime(o.createdAt),
        }))}
        firstProjectHref={first ? `/projects/${first.id}/vms` : null}
      />
    ),
  });
}
