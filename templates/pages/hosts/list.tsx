import { Card, PageHeader } from "../../components/card";
import { EmptyState } from "../../components/empty-state";
import { Table } from "../../components/table";
import {
  type Capacity,
  CapacityBars,
  HealthBadge,
  HostActionButton,
  HostStateBadge,
} from "./parts";
import { TokensPanel, type TokensPanelProps } from "./tokens";

export type HostRow = {
  id: string;
  name: string;
  hostname: string;
  state: string;
  health: string;
  maintenance: boolean;
  capacity: Capacity;
  lastSeen: string;
  /** May approve or reject (only offered while pending). */
  canApprove: boolean;
};

export type HostsPageProps = {
  org: { id: string; name: string };
  hosts: HostRow[];
  csrfToken: string;
  /** Only for those who may manage hosts (listing tokens needs that too). */
  tokens?: Omit<TokensPanelProps, "orgId" | "csrfToken"> | undefined;
};

/** An organization's hypervisor hosts, pending ones first, and its enrollment tokens. */
export function HostsPage(props: HostsPageProps) {
  const back = `/orgs/${props.org.id}/hosts`;
  return (
    <div class="space-y-6">
      <PageHeader
        title="Hosts"
        description={`Hypervisor hosts of ${props.org.name}: enrollment, health and capacity.`}
      />
      <Card title="Hosts">
        <Table
          id="hosts"
          caption="Hosts"
          captionHidden
          rows={props.hosts}
          rowKey={(h) => h.id}
          empty={
            <EmptyState
              title="No hosts yet"
              description="Create an enrollment token and run the enroll command on a new host."
            />
          }
          columns={[
            {
              header: "Host",
              cell: (h) => (
                <span>
                  <a class="font-medium text-indigo-700 hover:underline" href={`/hosts/${h.id}`}>
                    {h.name}
                  </a>
                  {h.hostname !== h.name ? (
                    <span class="block font-mono text-xs text-gray-500">{h.hostname}</span>
                  ) : null}
                </span>
              ),
            },
            { header: "State", cell: (h) => <HostStateBadge state={h.state} /> },
            {
              header: "Health",
              cell: (h) => <HealthBadge health={h.health} maintenance={h.maintenance} />,
            },
            {
              header: "Capacity",
              cell: (h) => <CapacityBars capacity={h.capacity} />,
              class: "hidden md:table-cell",
            },
            { header: "Last seen", cell: (h) => h.lastSeen, class: "hidden sm:table-cell" },
            {
              header: "",
              class: "text-right",
              cell: (h) =>
                h.state === "pending" && h.canApprove ? (
                  <span class="inline-flex gap-2">
                    <HostActionButton
                      kind="approve"
                      action={`/hosts/${h.id}/approve`}
                      back={back}
                      csrfToken={props.csrfToken}
                      label="Approve"
                      variant="primary"
                    />
                    <HostActionButton
                      kind="reject"
                      action={`/hosts/${h.id}/reject`}
                      back={back}
                      csrfToken={props.csrfToken}
                      label="Reject"
                      variant="danger"
                    />
                  </span>
                ) : null,
            },
          ]}
        />
      </Card>
      {props.tokens ? (
        <Card title="Enrollment tokens">
          <div id="enrollment-tokens">
            <TokensPanel orgId={props.org.id} csrfToken={props.csrfToken} {...props.tokens} />
          </div>
        </Card>
      ) : null}
    </div>
  );
}
