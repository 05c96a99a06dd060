import { Badge } from "../../components/badge";
import { Card, PageHeader } from "../../components/card";
import { Table } from "../../components/table";
import { HostActionButton } from "./parts";

export type WorkItemPageProps = {
  host: { id: string; name: string };
  item: {
    id: string;
    op: string;
    resource: string;
    state: string;
    /** Label and display text, in the order shown. */
    facts: { term: string; value: string }[];
    /** Not ended, and the viewer may operate the host. */
    cancellable: boolean;
  };
  /** The item's log, oldest first, as display text. */
  events: { at: string; kind: string; epoch: string; text: string }[];
  truncated: boolean;
  csrfToken: string;
};

const KIND_TONE: Record<string, "green" | "red" | "blue" | "gray"> = {
  result: "green",
  rejected: "red",
  security: "red",
  expired: "red",
  cancel_requested: "gray",
};

/** A host's work item and its log (the host's "task log"): what happened, in order. */
export function WorkItemPage(props: WorkItemPageProps) {
  const { host, item } = props;
  return (
    <div class="space-y-6">
      <PageHeader
        title={item.op}
        description={
          <span>
            Work item <span class="font-mono text-xs">{item.id}</span> on{" "}
            <a class="text-indigo-700 hover:underline" href={`/hosts/${host.id}`}>
              {host.name}
            </a>
          </span>
        }
        actions={
          item.cancellable ? (
            <HostActionButton
              kind="cancel-work"
              action={`/hosts/${host.id}/work-items/${item.id}/cancel`}
              back={`/hosts/${host.id}/work-items/${item.id}`}
              csrfToken={props.csrfToken}
              label="Cancel"
            />
          ) : null
        }
      />
      <Card title="Item">
        <dl class="divide-y divide-gray-100" id="work-item-facts" data-work-state={item.state}>
          {item.facts.map((f) => (
            <div class="py-2 sm:grid sm:grid-cols-3 sm:gap-4">
              <dt class="text-sm font-medium text-gray-500">{f.term}</dt>
              <dd class="mt-1 break-words text-sm text-gray-900 sm:col-span-2 sm:mt-0">
                {f.value}
              </dd>
            </div>
          ))}
        </dl>
      </Card>
      <Card title="Log">
        <Table
          id="work-item-log"
          caption="What happened to this work item, oldest first"
          captionHidden
          rows={props.events}
          empty={<p class="text-sm text-gray-500">Nothing has happened to this item yet.</p>}
          columns={[
            { header: "Time", cell: (e) => e.at },
            {
              header: "Event",
              cell: (e) => (
                <span data-event={e.kind}>
                  <Badge tone={KIND_TONE[e.kind] ?? "blue"}>{e.kind}</Badge>
                </span>
              ),
            },
            { header: "Lease", cell: (e) => e.epoch, class: "hidden sm:table-cell" },
            {
              header: "Detail",
              cell: (e) => <span class="whitespace-pre-wrap break-words">{e.text}</span>,
            },
          ]}
        />
        {props.truncated ? (
          <p class="mt-2 text-sm text-gray-500">
            Only the first {props.events.length} events are shown.
          </p>
        ) : null}
      </Card>
    </div>
  );
}
