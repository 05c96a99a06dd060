import { Button, ButtonLink } from "../../components/button";
import { PageHeader } from "../../components/card";
import { EmptyState } from "../../components/empty-state";
import { Field } from "../../components/field";
import { LiveRegion } from "../../components/live-region";
import { Table } from "../../components/table";
import { StateBadge } from "./parts";

export type VmListRow = {
  id: string;
  name: string;
  observedState: string;
  desiredState: string;
  size: string;
  createdAt: string;
};

export type VmListProps = {
  project: { id: string; name: string };
  filters: { state: string; q: string; sort: string };
  states: readonly string[];
  /** The orders the list offers, the first the default. */
  sorts: readonly { value: string; label: string }[];
  rows: VmListRow[];
  /** The URL of the next page, or null on the last one. */
  nextHref: string | null;
  /** The URL of the first page when this is a later one. */
  firstHref: string | null;
  /** The URL this list polls for its rows (the same page, as a fragment). */
  pollHref: string;
  /** The event stream of the rows (the same filters and page). */
  eventsHref: string;
  canCreate: boolean;
};

/**
 * The rows of the VM list. The page's event stream sends them again whenever a VM of the project
 * changes (`VmListPage`); while the stream is not open, htmx polls every 3 s instead (it GETs the
 * same URL as a partial request and swaps this element). Without JS the page simply shows the
 * state at load time.
 */
export function VmRows(props: VmListProps) {
  const filtered = props.filters.state !== "" || props.filters.q !== "";
  return (
    <div
      id="vm-rows"
      hx-get={props.pollHref}
      hx-trigger="every 3s"
      hx-swap="outerHTML"
      data-poll-fallback
    >
      <Table
        id="vms"
        caption={`VMs of ${props.project.name}`}
        captionHidden
        rows={props.rows}
        rowKey={(r) => r.id}
        empty={
          <EmptyState
            title={filtered ? "No VM matches" : "No VMs yet"}
            description={
              filtered ? "Try another state or name." : "Create a VM to run something here."
            }
            action={
              props.canCreate && !filtered ? (
                <ButtonLink href={`/projects/${props.project.id}/vms/new`}>Create a VM</ButtonLink>
              ) : undefined
            }
          />
        }
        columns={[
          {
            header: "Name",
            cell: (r) => (
              <a class="font-medium text-indigo-700 hover:underline" href={`/vms/${r.id}`}>
                {r.name}
              </a>
            ),
          },
          { header: "State", cell: (r) => <StateBadge state={r.observedState} /> },
          { header: "Desired", cell: (r) => r.desiredState, class: "hidden sm:table-cell" },
          { header: "Size", cell: (r) => r.size, class: "hidden md:table-cell" },
          { header: "Created", cell: (r) => r.createdAt, class: "hidden lg:table-cell" },
        ]}
      />
      {props.nextHref || props.firstHref ? (
        <nav aria-label="Pages" class="mt-4 flex gap-3">
          {props.firstHref ? (
            <ButtonLink href={props.firstHref} variant="secondary" size="sm">
              First page
            </ButtonLink>
          ) : null}
          {props.nextHref ? (
            <ButtonLink
              href={props.nextHref}
              variant="secondary"
              size="sm"
              attrs={{ "data-next": "" }}
            >
              Next page
            </ButtonLink>
          ) : null}
        </nav>
      ) : null}
    </div>
  );
}

/** A project's VMs: filter by state and name, in the chosen order, live state. */
export function VmListPage(props: VmListProps) {
  return (
    <div class="space-y-6">
      <PageHeader
        title="Virtual machines"
        description={
          <>
            In project{" "}
            <a class="text-indigo-700 hover:underline" href={`/projects/${props.project.id}`}>
              {props.project.name}
            </a>
            {" · "}
            <a class="text-indigo-700 hover:underline" href={`/projects/${props.project.id}/quota`}>
              Quota
            </a>
          </>
        }
        actions={
          props.canCreate ? (
            <ButtonLink href={`/projects/${props.project.id}/vms/new`}>Create VM</ButtonLink>
          ) : undefined
        }
      />
      <form
        method="get"
        action={`/projects/${props.project.id}/vms`}
        class="flex flex-wrap items-end gap-3"
        aria-label="Filter VMs"
      >
        <Field
          as="select"
          name="state"
          label="State"
          value={props.filters.state}
          options={[
            { value: "", label: "Any state" },
            ...props.states.map((s) => ({ value: s, label: s })),
          ]}
        />
        <Field name="q" label="Name" type="search" value={props.filters.q} placeholder="web" />
        <Field
          as="select"
          name="sort"
          label="Order"
          value={props.filters.sort}
          options={[...props.sorts]}
        />
        <Button variant="secondary">Show</Button>
      </form>
      <LiveRegion id="vm-rows-stream" eventsUrl={props.eventsHref}>
        <VmRows {...props} />
      </LiveRegion>
    </div>
  );
}

/** What the stream sends once the list is no longer visible: one more fetch shows the reason. */
export function VmRowsGone(props: { pollHref: string }) {
  return <div hx-get={props.pollHref} hx-trigger="load" hx-swap="none" data-vm-rows-gone />;
}

/** `/vms` for someone without any project in their current organization. */
export function NoProjectPage(props: { createProjectHref: string | null }) {
  return (
    <div class="space-y-6">
      <PageHeader title="Virtual machines" />
      <EmptyState
        title="No project yet"
        description="VMs live in projects. Create a project first, or ask to be added to one."
        action={
          props.createProjectHref ? (
            <ButtonLink href={props.createProjectHref}>Create a project</ButtonLink>
          ) : (
            <ButtonLink href="/orgs/new">Create an organization</ButtonLink>
          )
        }
      />
    </div>
  );
}
