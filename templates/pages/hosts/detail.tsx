import type { Child } from "hono/jsx";
import { Alert } from "../../components/alert";
import { Badge } from "../../components/badge";
import { Button, ButtonLink } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { CsrfInput } from "../../components/form";
import { Table } from "../../components/table";
import { HealthBadge, HostActionButton, HostStateBadge } from "./parts";

export type HostDetailProps = {
  host: {
    id: string;
    name: string;
    state: string;
    health: string;
    maintenance: boolean;
    scope: string;
    lastSeen: string;
    enrolledAt: string;
    replacesHostId: string | null;
  };
  org: { id: string; name: string };
  /** Reported facts as label and display text, in the order shown. */
  facts: { term: string; value: string }[];
  report: { problems: string[]; lastStatus: string; clockOffset: string };
  work: {
    id: string;
    op: string;
    resource: string;
    state: string;
    outcome: string | null;
    created: string;
    finished: string;
    /** Not ended yet: it can be cancelled. */
    open: boolean;
    /** Cancellation asked for; the host has yet to stop it. */
    cancelRequested: boolean;
  }[];
  can: { approve: boolean; operate: boolean; delete: boolean };
  csrfToken: string;
};

function Spec(props: { term: string; children: Child }) {
  return (
    <div class="py-2 sm:grid sm:grid-cols-3 sm:gap-4">
      <dt class="text-sm font-medium text-gray-500">{props.term}</dt>
      <dd class="mt-1 text-sm text-gray-900 sm:col-span-2 sm:mt-0">{props.children}</dd>
    </div>
  );
}

const WORK_TONE: Record<string, "green" | "red" | "blue" | "gray"> = {
  succeeded: "green",
  failed: "red",
  rejected: "red",
  expired: "red",
  queued: "blue",
  leased: "blue",
  accepted: "blue",
  running: "blue",
  blocked: "gray",
  cancelled: "gray",
};

/** The buttons this viewer may use in this state (the routes check again). */
function Actions(props: HostDetailProps) {
  const { host, can, csrfToken } = props;
  const back = `/hosts/${host.id}`;
  const button = (kind: string, label: string, variant?: "primary" | "danger") => (
    <HostActionButton
      kind={kind}
      action={`/hosts/${host.id}/${kind}`}
      back={back}
      csrfToken={csrfToken}
      label={label}
      {...(variant ? { variant } : {})}
    />
  );
  const live = host.state === "approved" || host.state === "disabled";
  return (
    <>
      {can.approve && host.state === "pending" ? button("approve", "Approve", "primary") : null}
      {can.approve && host.state === "pending" ? button("reject", "Reject", "danger") : null}
      {can.operate && live ? (
        <HostActionButton
          kind={host.maintenance ? "maintenance-off" : "maintenance-on"}
          action={`/hosts/${host.id}/maintenance`}
          back={back}
          csrfToken={csrfToken}
          label={host.maintenance ? "End maintenance" : "Start maintenance"}
          fields={{ enabled: host.maintenance ? "false" : "true" }}
        />
      ) : null}
      {can.operate && host.state === "approved" ? button("disable", "Disable") : null}
      {can.operate && host.state === "disabled" ? button("enable", "Enable") : null}
      {can.delete && (live || host.state === "pending") ? (
        <ButtonLink
          href={`/hosts/${host.id}/revoke`}
          size="sm"
          variant="danger"
          attrs={{ "data-action": "revoke" }}
        >
          Revoke…
        </ButtonLink>
      ) : null}
    </>
  );
}

/** One host: state, health, reported facts and problems, recent work, and the allowed actions. */
export function HostDetailPage(props: HostDetailProps) {
  const { host, report } = props;
  return (
    <div class="space-y-6">
      <PageHeader
        title={host.name}
        description={
          <span>
            Host in{" "}
            <a class="text-indigo-700 hover:underline" href={`/orgs/${props.org.id}/hosts`}>
              {props.org.name}
            </a>{" "}
            <span class="font-mono text-xs">{host.id}</span>
          </span>
        }
        actions={<Actions {...props} />}
      />
      {host.replacesHostId ? (
        <Alert tone="info" title="Re-enrollment">
          This identity would replace host{" "}
          <a class="underline" href={`/hosts/${host.replacesHostId}`}>
            {host.replacesHostId}
          </a>
          ; approving it revokes that one.
        </Alert>
      ) : null}
      <div class="grid gap-6 lg:grid-cols-2">
        <Card title="Status">
          <dl class="divide-y divide-gray-100">
            <Spec term="State">
              <HostStateBadge state={host.state} />
            </Spec>
            <Spec term="Health">
              <HealthBadge health={host.health} maintenance={host.maintenance} />
            </Spec>
            <Spec term="Last seen">{host.lastSeen}</Spec>
            <Spec term="Last status">{report.lastStatus}</Spec>
            <Spec term="Clock offset">{report.clockOffset}</Spec>
            <Spec term="Scope">{host.scope}</Spec>
            <Spec term="Enrolled">{host.enrolledAt}</Spec>
          </dl>
          {report.problems.length > 0 ? (
            <div class="mt-4" id="host-problems">
              <p class="text-sm font-medium text-gray-900">Reported problems</p>
              <ul class="mt-1 list-disc pl-5 text-sm text-red-700">
                {report.problems.map((p) => (
                  <li>{p}</li>
                ))}
              </ul>
            </div>
          ) : (
            <p class="mt-4 text-sm text-gray-500">No problems reported.</p>
          )}
        </Card>
        <Card title="Facts">
          <dl class="divide-y divide-gray-100" id="host-facts">
            {props.facts.map((f) => (
              <Spec term={f.term}>{f.value}</Spec>
            ))}
          </dl>
        </Card>
      </div>
      <Card title="Recent work">
        <Table
          id="host-work"
          caption="Recent work items"
          captionHidden
          rows={props.work}
          rowKey={(w) => w.id}
          empty={<p class="text-sm text-gray-500">No work for this host yet.</p>}
          columns={[
            {
              header: "Operation",
              cell: (w) => (
                <a
                  class="font-mono text-xs text-indigo-700 hover:underline"
                  href={`/hosts/${host.id}/work-items/${w.id}`}
                >
                  {w.op}
                </a>
              ),
            },
            {
              header: "Resource",
              cell: (w) => <span class="font-mono text-xs">{w.resource}</span>,
              class: "hidden md:table-cell",
            },
            {
              header: "State",
              cell: (w) => (
                <span data-work-state={w.state}>
                  <Badge tone={WORK_TONE[w.state] ?? "gray"}>{w.state}</Badge>
                </span>
              ),
            },
            {
              header: "Outcome",
              cell: (w) => (w.cancelRequested ? "cancelling…" : (w.outcome ?? "—")),
            },
            { header: "Created", cell: (w) => w.created, class: "hidden sm:table-cell" },
            { header: "Finished", cell: (w) => w.finished, class: "hidden sm:table-cell" },
            ...(props.can.operate
              ? [
                  {
                    header: "Actions",
                    class: "text-right",
                    cell: (w: HostDetailProps["work"][number]) =>
                      w.open && !w.cancelRequested ? (
                        <HostActionButton
                          kind="cancel-work"
                          action={`/hosts/${host.id}/work-items/${w.id}/cancel`}
                          back={`/hosts/${host.id}`}
                          csrfToken={props.csrfToken}
                          label="Cancel"
                        />
                      ) : null,
                  },
                ]
              : []),
          ]}
        />
      </Card>
    </div>
  );
}

/** The second step of revoking: what it means, and the one button that does it. */
export function RevokeHostPage(props: { host: { id: string; name: string }; csrfToken: string }) {
  return (
    <div class="max-w-xl space-y-6">
      <PageHeader title={`Revoke ${props.host.name}?`} />
      <Alert tone="warning" title="This cannot be undone">
        The host's identity stops working at its next call and its open work is cancelled. To use
        the machine again, enroll it anew with a fresh token.
      </Alert>
      <form method="post" action={`/hosts/${props.host.id}/revoke`} class="flex gap-3">
        <CsrfInput token={props.csrfToken} />
        <input type="hidden" name="back" value={`/hosts/${props.host.id}`} />
        <Button variant="danger" attrs={{ "data-action": "revoke" }}>
          Revoke {props.host.name}
        </Button>
        <ButtonLink href={`/hosts/${props.host.id}`} variant="secondary">
          Cancel
        </ButtonLink>
      </form>
    </div>
  );
}
