import { Badge, type BadgeTone } from "../../components/badge";
import { Button, ButtonLink } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { Field } from "../../components/field";
import { Table } from "../../components/table";

export type AuditRowView = {
  id: string;
  at: string;
  actor: string;
  actorId: string;
  action: string;
  target: string;
  outcome: string;
  requestId: string;
  detail: string;
};

export type AuditPageProps = {
  org: { id: string; name: string };
  filters: { action: string; actor: string };
  rows: AuditRowView[];
  nextHref: string | null;
  firstHref: string | null;
};

const OUTCOME_TONE: Record<string, BadgeTone> = {
  success: "green",
  failure: "red",
  denied: "yellow",
};

/** An organization's audit log: who did what to which target, newest first, filterable. */
export function AuditPage(props: AuditPageProps) {
  return (
    <div class="space-y-6">
      <PageHeader title="Audit log" description={`Everything recorded in ${props.org.name}.`} />
      <form
        method="get"
        action={`/orgs/${props.org.id}/audit`}
        class="flex flex-wrap items-end gap-3"
        aria-label="Filter the audit log"
      >
        <Field name="action" label="Action" value={props.filters.action} placeholder="vm.create" />
        <Field name="actor" label="Actor id" value={props.filters.actor} placeholder="user_…" />
        <Button variant="secondary">Filter</Button>
      </form>
      <Card>
        <Table
          id="audit"
          caption="Audit events"
          captionHidden
          rows={props.rows}
          rowKey={(r) => r.id}
          empty={<p class="text-sm text-gray-500">No events match.</p>}
          columns={[
            { header: "When", cell: (r) => r.at },
            {
              header: "Actor",
              cell: (r) => (
                <a
                  class="text-indigo-700 hover:underline"
                  href={`/orgs/${props.org.id}/audit?actor=${encodeURIComponent(r.actorId)}`}
                >
                  {r.actor}
                </a>
              ),
            },
            {
              header: "Action",
              cell: (r) => (
                <a
                  class="font-mono text-indigo-700 hover:underline"
                  href={`/orgs/${props.org.id}/audit?action=${encodeURIComponent(r.action)}`}
                >
                  {r.action}
                </a>
              ),
            },
            { header: "Target", cell: (r) => <span class="font-mono text-xs">{r.target}</span> },
            {
              header: "Outcome",
              cell: (r) => <Badge tone={OUTCOME_TONE[r.outcome] ?? "gray"}>{r.outcome}</Badge>,
            },
            {
              header: "Request",
              cell: (r) => <span class="font-mono text-xs">{r.requestId}</span>,
              class: "hidden lg:table-cell",
            },
            {
              header: "Detail",
              cell: (r) => (
                <span class="block max-w-xs truncate font-mono text-xs" title={r.detail}>
                  {r.detail}
                </span>
              ),
              class: "hidden xl:table-cell",
            },
          ]}
        />
      </Card>
      {props.nextHref || props.firstHref ? (
        <nav aria-label="Pages" class="flex gap-3">
          {props.firstHref ? (
            <ButtonLink href={props.firstHref} variant="secondary" size="sm">
              Newest
            </ButtonLink>
          ) : null}
          {props.nextHref ? (
            <ButtonLink
              href={props.nextHref}
              variant="secondary"
              size="sm"
              attrs={{ "data-next": "" }}
            >
              Older
            </ButtonLink>
          ) : null}
        </nav>
      ) : null}
    </div>
  );
}
