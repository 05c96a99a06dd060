import { Badge, type BadgeTone } from "../../components/badge";
import { Button, type ButtonVariant } from "../../components/button";
import { CsrfInput } from "../../components/form";
import { UsageBar } from "../vms/parts";

const HEALTH_TONE: Record<string, BadgeTone> = {
  healthy: "green",
  warning: "yellow",
  critical: "red",
  unreachable: "red",
  offline: "gray",
  discovering: "blue",
  pending: "yellow",
  inactive: "gray",
};

/** A host's derived health, plus "maintenance" when it is drained (a separate flag). */
export function HealthBadge(props: { health: string; maintenance: boolean }) {
  return (
    <span class="inline-flex gap-1" data-health={props.health}>
      <Badge tone={HEALTH_TONE[props.health] ?? "gray"}>{props.health}</Badge>
      {props.maintenance ? (
        <span data-maintenance>
          <Badge tone="indigo">maintenance</Badge>
        </span>
      ) : null}
    </span>
  );
}

const STATE_TONE: Record<string, BadgeTone> = {
  pending: "yellow",
  approved: "green",
  rejected: "red",
  disabled: "gray",
  revoked: "red",
};

/** Where the host stands in enrollment: pending, approved, rejected, disabled, revoked. */
export function HostStateBadge(props: { state: string }) {
  return (
    <span data-host-state={props.state}>
      <Badge tone={STATE_TONE[props.state] ?? "gray"}>{props.state}</Badge>
    </span>
  );
}

export type Capacity = {
  vcpus: { used: number; total: number };
  memoryMb: { used: number; total: number };
};

function ratio(used: number, total: number): number {
  return total === 0 ? (used > 0 ? 1 : 0) : used / total;
}

function gib(mb: number): string {
  const v = mb / 1024;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} GiB`;
}

/** vCPUs and memory the host's VMs take, against what the host reported it has. */
export function CapacityBars(props: { capacity: Capacity }) {
  const { vcpus, memoryMb } = props.capacity;
  return (
    <div class="min-w-40 space-y-2" data-capacity>
      <UsageBar
        label="vCPUs"
        used={String(vcpus.used)}
        limit={String(vcpus.total)}
        ratio={ratio(vcpus.used, vcpus.total)}
      />
      <UsageBar
        label="Memory"
        used={gib(memoryMb.used)}
        limit={gib(memoryMb.total)}
        ratio={ratio(memoryMb.used, memoryMb.total)}
      />
    </div>
  );
}

/**
 * One host action as a plain form: works without JS, and `back` tells the route which page to
 * return to with the outcome as a flash message.
 */
export function HostActionButton(props: {
  /** The verb, also `data-action` (for tests and scripts). */
  kind: string;
  action: string;
  back: string;
  csrfToken: string;
  label: string;
  variant?: ButtonVariant;
  fields?: Record<string, string>;
}) {
  return (
    <form method="post" action={props.action} class="inline">
      <CsrfInput token={props.csrfToken} />
      <input type="hidden" name="back" value={props.back} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <Button
        size="sm"
        variant={props.variant ?? "secondary"}
        attrs={{ "data-action": props.kind }}
      >
        {props.label}
      </Button>
    </form>
  );
}
