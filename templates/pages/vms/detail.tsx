import { Alert } from "../../components/alert";
import { Button, ButtonLink } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { cx } from "../../components/cx";
import { CsrfInput } from "../../components/form";
import { LiveRegion } from "../../components/live-region";
import { OperationBadge, StateBadge } from "./parts";
import { VmTelemetryCards, type VmTelemetryView } from "./telemetry";

export type OperationStepView = { name: string; status: string; at: string | null };

export type OperationTimelineItem = {
  id: string;
  kind: string;
  status: string;
  steps: OperationStepView[];
  error: { code: string; hint: string } | null;
  createdAt: string;
  finishedAt: string | null;
  actor: string;
};

export type VmDetailView = {
  id: string;
  name: string;
  description: string;
  project: { id: string; name: string };
  image: string;
  vcpus: number;
  memory: string;
  diskGb: number;
  sshKeys: number;
  host: string | null;
  desiredState: string;
  observedState: string;
  stateReason: string;
  createdAt: string;
  updatedAt: string;
};

export type VmActionButton = { action: string; label: string };

export type VmDetailProps = {
  vm: VmDetailView;
  operations: OperationTimelineItem[];
  /** Actions the user may take in the VM's current state. */
  actions: VmActionButton[];
  /** The operation under way, when there is one (actions wait for it). */
  busy: { id: string; kind: string; cancellable: boolean } | null;
  /** Keep polling: an operation runs or the VM is between states. */
  live: boolean;
  csrfToken: string;
  /** The console tail (with `console` permission) and activity charts the host reported. */
  telemetry: VmTelemetryView;
};

function Spec(props: { term: string; children: string | number | null }) {
  return (
    <div class="py-2 sm:grid sm:grid-cols-3 sm:gap-4">
      <dt class="text-sm font-medium text-gray-500">{props.term}</dt>
      <dd class="mt-1 text-sm text-gray-900 sm:col-span-2 sm:mt-0">{props.children ?? "—"}</dd>
    </div>
  );
}

const STEP_DOT: Record<string, string> = {
  done: "bg-green-500",
  running: "bg-blue-500",
  failed: "bg-red-500",
  pending: "bg-gray-300",
};

/** An operation with its steps, newest first. */
function Timeline(props: { operations: OperationTimelineItem[] }) {
  if (props.operations.length === 0) {
    return <p class="text-sm text-gray-500">No operations yet.</p>;
  }
  return (
    <ol class="space-y-4" id="operations">
      {props.operations.map((op) => (
        <li class="rounded-md border border-gray-200 p-3" data-operation={op.id}>
          <div class="flex flex-wrap items-center justify-between gap-2">
            <p class="text-sm font-semibold text-gray-900">
              <span class="font-mono">{op.kind}</span> <OperationBadge status={op.status} />
            </p>
            <p class="text-xs text-gray-500">
              {op.createdAt} by {op.actor}
              {op.finishedAt ? ` · finished ${op.finishedAt}` : ""}
            </p>
          </div>
          <ol class="mt-2 flex flex-wrap gap-x-4 gap-y-1" aria-label={`Steps of ${op.kind}`}>
            {op.steps.map((s) => (
              <li class="flex items-center gap-1 text-xs text-gray-700" data-step={s.status}>
                <span
                  class={cx(
                    "inline-block h-2 w-2 rounded-full",
                    STEP_DOT[s.status] ?? "bg-gray-300",
                  )}
                  aria-hidden="true"
                />
                {s.name}
                <span class="sr-only"> ({s.status})</span>
                {s.at ? <span class="text-gray-400">{s.at}</span> : null}
              </li>
            ))}
          </ol>
          {op.error ? (
            <p class="mt-2 text-sm text-red-700" data-operation-error={op.error.code}>
              <span class="font-mono">{op.error.code}</span>
              {op.error.hint ? `: ${op.error.hint}` : ""}
            </p>
          ) : null}
        </li>
      ))}
    </ol>
  );
}

/** The actions: POST forms with the CSRF token (no JS needed); delete goes to a confirm page. */
function Actions(props: VmDetailProps) {
  if (props.busy) {
    return (
      <div class="flex flex-wrap items-center gap-2">
        <p class="text-sm text-gray-600" data-busy={props.busy.id}>
          <span class="font-mono">{props.busy.kind}</span> is in progress; actions are available
          when it finishes.
        </p>
        {props.busy.cancellable ? (
          <form method="post" action={`/vms/${props.vm.id}/operations/${props.busy.id}/cancel`}>
            <CsrfInput token={props.csrfToken} />
            <Button size="sm" variant="secondary" attrs={{ "data-action": "cancel-operation" }}>
              Cancel
            </Button>
          </form>
        ) : null}
      </div>
    );
  }
  if (props.actions.length === 0) return null;
  return (
    <div class="flex flex-wrap gap-2" data-actions>
      {props.actions.map((a) =>
        a.action === "delete" ? (
          <ButtonLink href={`/vms/${props.vm.id}/delete`} variant="danger" size="sm">
            {a.label}
          </ButtonLink>
        ) : (
          <form method="post" action={`/vms/${props.vm.id}/${a.action}`}>
            <CsrfInput token={props.csrfToken} />
            <Button size="sm" variant="secondary" attrs={{ "data-action": a.action }}>
              {a.label}
            </Button>
          </form>
        ),
      )}
    </div>
  );
}

/**
 * The part of the detail page that changes: state, actions, console, activity and the operation
 * timeline. The page's event stream sends it again whenever it changes (`VmDetailPage`). Its own
 * htmx polling is the fallback, which app.js holds back while the stream is open: every 3 s while
 * something is under way, every 15 s while the VM runs (console output, activity, a crash the host
 * reports); a stopped VM does not poll.
 */
export function VmLive(props: VmDetailProps) {
  const vm = props.vm;
  const every = props.live
    ? "3s"
    : vm.observedState === "running" || vm.observedState === "paused"
      ? "15s"
      : undefined;
  const poll: Record<string, string> = every
    ? {
        "hx-get": `/vms/${vm.id}`,
        "hx-trigger": `every ${every}`,
        "hx-swap": "outerHTML",
        "data-poll-fallback": "",
      }
    : {};
  return (
    <div id="vm-live" class="space-y-6" {...poll} data-live={props.live ? "true" : "false"}>
      <Card title="State" actions={<Actions {...props} />}>
        <dl class="divide-y divide-gray-100">
          <div class="py-2 sm:grid sm:grid-cols-3 sm:gap-4">
            <dt class="text-sm font-medium text-gray-500">Observed</dt>
            <dd class="mt-1 text-sm sm:col-span-2 sm:mt-0" id="vm-state">
              <StateBadge state={vm.observedState} />
            </dd>
          </div>
          <Spec term="Desired">{vm.desiredState}</Spec>
          <Spec term="Reason">{vm.stateReason || null}</Spec>
          <Spec term="Updated">{vm.updatedAt}</Spec>
        </dl>
      </Card>
      <VmTelemetryCards {...props.telemetry} />
      <Card title="Operations">
        <Timeline operations={props.operations} />
      </Card>
    </div>
  );
}

/**
 * What the stream sends once the VM is gone: htmx fetches the panel once more, and the server
 * sends the browser to the VM list with a message (as it does for the polling page).
 */
export function VmGone(props: { vmId: string }) {
  return (
    <div hx-get={`/vms/${props.vmId}`} hx-trigger="load" hx-swap="none" data-vm-gone>
      <p class="text-sm text-gray-600">This VM no longer exists.</p>
    </div>
  );
}

export function VmDetailPage(props: VmDetailProps & { eventsUrl: string }) {
  const vm = props.vm;
  return (
    <div class="space-y-6">
      <PageHeader
        title={vm.name}
        description={
          <>
            VM <span class="font-mono">{vm.id}</span> in project{" "}
            <a class="text-indigo-700 hover:underline" href={`/projects/${vm.project.id}/vms`}>
              {vm.project.name}
            </a>
          </>
        }
      />
      <LiveRegion id="vm-live-stream" eventsUrl={props.eventsUrl}>
        <VmLive {...props} />
      </LiveRegion>
      <Card title="Specification">
        <dl class="divide-y divide-gray-100">
          <Spec term="Image">{vm.image}</Spec>
          <Spec term="vCPUs">{vm.vcpus}</Spec>
          <Spec term="Memory">{vm.memory}</Spec>
          <Spec term="Disk">{`${vm.diskGb} GB`}</Spec>
          <Spec term="SSH keys">{vm.sshKeys}</Spec>
          <Spec term="Host">{vm.host}</Spec>
          <Spec term="Description">{vm.description || null}</Spec>
          <Spec term="Created">{vm.createdAt}</Spec>
        </dl>
      </Card>
    </div>
  );
}

/** The second step of deleting: a page that says what goes, with the one button that does it. */
export function DeleteVmPage(props: { vm: { id: string; name: string }; csrfToken: string }) {
  return (
    <div class="max-w-xl space-y-6">
      <PageHeader title={`Delete ${props.vm.name}?`} />
      <Alert tone="warning" title="This cannot be undone">
        The VM is stopped and its disk is removed from its host. Its name becomes free again.
      </Alert>
      <form method="post" action={`/vms/${props.vm.id}/delete`} class="flex gap-3">
        <CsrfInput token={props.csrfToken} />
        <Button variant="danger" attrs={{ "data-action": "delete" }}>
          Delete {props.vm.name}
        </Button>
        <ButtonLink href={`/vms/${props.vm.id}`} variant="secondary">
          Cancel
        </ButtonLink>
      </form>
    </div>
  );
}
