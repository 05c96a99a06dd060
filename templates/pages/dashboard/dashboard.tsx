import { ButtonLink } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { EmptyState } from "../../components/empty-state";
import { LiveRegion } from "../../components/live-region";
import { Table } from "../../components/table";
import { OperationBadge, QuotaBars, type QuotaView, StateBadge } from "../vms/parts";

export type DashboardProps = {
  name: string;
  orgs: { id: string; name: string; href: string }[];
  vmStates: { state: string; count: number }[];
  vmTotal: number;
  /** Per organization whose hosts the user may see. */
  hosts: { org: string; total: number; byHealth: { health: string; count: number }[] }[];
  quotas: { id: string; name: string; quota: QuotaView }[];
  operations: {
    id: string;
    kind: string;
    status: string;
    vm: { id: string; name: string } | null;
    createdAt: string;
  }[];
  firstProjectHref: string | null;
};

const HEALTH_TONE: Record<string, string> = {
  healthy: "text-green-700",
  warning: "text-yellow-700",
  critical: "text-red-700",
  unreachable: "text-red-700",
  offline: "text-red-700",
};

/**
 * The cards that change: VMs by state, hosts by health, recent operations and quota usage. The
 * page's event stream sends them again when something changes; without it htmx polls every 15 s.
 */
export function DashboardLive(props: DashboardProps) {
  return (
    <div
      id="dashboard-live"
      class="space-y-6"
      hx-get="/"
      hx-trigger="every 15s"
      hx-swap="outerHTML"
      data-poll-fallback
    >
      <div class="grid gap-6 lg:grid-cols-2">
        <Card title={`VMs (${props.vmTotal})`} id="dashboard-vms">
          {props.vmStates.length === 0 ? (
            <p class="text-sm text-gray-500">No VMs yet.</p>
          ) : (
            <ul class="flex flex-wrap gap-4">
              {props.vmStates.map((s) => (
                <li class="flex items-center gap-2" data-vm-count={s.state}>
                  <StateBadge state={s.state} />
                  <span class="text-lg font-semibold text-gray-900">{s.count}</span>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Hosts" id="dashboard-hosts">
          {props.hosts.length === 0 ? (
            <p class="text-sm text-gray-500">No hosts you may see.</p>
          ) : (
            <ul class="space-y-3">
              {props.hosts.map((o) => (
                <li data-host-org={o.org}>
                  <p class="text-sm font-medium text-gray-900">
                    {o.org} · {o.total} {o.total === 1 ? "host" : "hosts"}
                  </p>
                  <p class="mt-1 flex flex-wrap gap-3 text-sm">
                    {o.byHealth.map((h) => (
                      <span
                        class={HEALTH_TONE[h.health] ?? "text-gray-600"}
                        data-host-health={h.health}
                      >
                        {h.count} {h.health}
                      </span>
                    ))}
                  </p>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      <Card title="Recent operations" id="dashboard-operations">
        <Table
          caption="Recent operations"
          captionHidden
          rows={props.operations}
          rowKey={(o) => o.id}
          empty={<p class="text-sm text-gray-500">No operations yet.</p>}
          columns={[
            { header: "Operation", cell: (o) => <span class="font-mono">{o.kind}</span> },
            {
              header: "VM",
              cell: (o) =>
                o.vm ? (
                  <a class="text-indigo-700 hover:underline" href={`/vms/${o.vm.id}`}>
                    {o.vm.name}
                  </a>
                ) : (
                  "deleted"
                ),
            },
            { header: "Status", cell: (o) => <OperationBadge status={o.status} /> },
            { header: "Started", cell: (o) => o.createdAt, class: "hidden sm:table-cell" },
          ]}
        />
      </Card>
      <Card title="Quota usage" id="dashboard-quotas">
        {props.quotas.length === 0 ? (
          <p class="text-sm text-gray-500">No projects yet.</p>
        ) : (
          <div class="space-y-6">
            {props.quotas.map((p) => (
              <div data-project-quota={p.id}>
                <p class="mb-2 text-sm font-semibold text-gray-900">
                  <a class="hover:underline" href={`/projects/${p.id}/quota`}>
                    {p.name}
                  </a>
                </p>
                <QuotaBars quota={p.quota} />
              </div>
            ))}
          </div>
        )}
      </Card>
    </div>
  );
}

/** The landing page: VMs by state, hosts by health, quota usage and recent operations. */
export function DashboardPage(props: DashboardProps & { eventsUrl: string }) {
  return (
    <div class="space-y-6">
      <PageHeader
        title={`Welcome, ${props.name}`}
        actions={
          props.firstProjectHref ? (
            <ButtonLink href={props.firstProjectHref} variant="secondary">
              View VMs
            </ButtonLink>
          ) : undefined
        }
      />
      {props.orgs.length === 0 ? (
        <Card title="Your organizations">
          <EmptyState
            title="No organization yet"
            description="Everything in Strato lives in an organization and its projects. Create one, or ask someone to invite you to theirs."
            action={<ButtonLink href="/orgs/new">Create an organization</ButtonLink>}
          />
        </Card>
      ) : (
        <>
          <LiveRegion id="dashboard-live-stream" eventsUrl={props.eventsUrl}>
            <DashboardLive {...props} />
          </LiveRegion>
          <Card title="Your organizations">
            <ul class="divide-y divide-gray-100" id="home-orgs">
              {props.orgs.map((o) => (
                <li class="py-2">
                  <a class="font-medium text-indigo-700 hover:underline" href={o.href}>
                    {o.name}
                  </a>
                </li>
              ))}
            </ul>
          </Card>
        </>
      )}
    </div>
  );
}
