import { Badge, type BadgeTone } from "../../components/badge";

const STATE_TONE: Record<string, BadgeTone> = {
  running: "green",
  stopped: "gray",
  paused: "yellow",
  error: "red",
  unknown: "red",
  deleted: "gray",
  pending: "blue",
  scheduling: "blue",
  provisioning: "blue",
  stopping: "blue",
  deleting: "indigo",
};

/** A VM's observed state (or an operation's status) as a coloured label. */
export function StateBadge(props: { state: string }) {
  return (
    <span data-state={props.state}>
      <Badge tone={STATE_TONE[props.state] ?? "gray"}>{props.state}</Badge>
    </span>
  );
}

const OP_TONE: Record<string, BadgeTone> = {
  pending: "blue",
  running: "blue",
  succeeded: "green",
  failed: "red",
  cancelled: "gray",
};

export function OperationBadge(props: { status: string }) {
  return (
    <span data-op-status={props.status}>
      <Badge tone={OP_TONE[props.status] ?? "gray"}>{props.status}</Badge>
    </span>
  );
}

/** One usage bar of a quota: "3 of 20" with a bar whose width is a Tailwind class. */
export function UsageBar(props: { label: string; used: string; limit: string; ratio: number }) {
  const pct = Math.min(100, Math.max(0, Math.round(props.ratio * 100)));
  // Widths in steps of 10% as whole class names, so Tailwind sees them.
  const WIDTH = [
    "w-0",
    "w-[10%]",
    "w-[20%]",
    "w-[30%]",
    "w-[40%]",
    "w-[50%]",
    "w-[60%]",
    "w-[70%]",
    "w-[80%]",
    "w-[90%]",
    "w-full",
  ];
  const width = WIDTH[Math.round(pct / 10)] ?? "w-0";
  const tone = pct >= 90 ? "bg-red-500" : pct >= 70 ? "bg-yellow-500" : "bg-indigo-600";
  return (
    <div data-quota={props.label}>
      <div class="flex justify-between text-sm">
        <span class="font-medium text-gray-900">{props.label}</span>
        <span class="text-gray-600">
          {props.used} of {props.limit}
        </span>
      </div>
      <div
        class="mt-1 h-2 rounded-full bg-gray-200"
        role="progressbar"
        aria-label={props.label}
        aria-valuenow={String(pct)}
        aria-valuemin="0"
        aria-valuemax="100"
      >
        <div class={`h-2 rounded-full ${tone} ${width}`} />
      </div>
    </div>
  );
}

export type QuotaView = {
  vms: { used: number; limit: number };
  vcpus: { used: number; limit: number };
  memory: { used: string; limit: string; ratio: number };
  disk: { used: number; limit: number };
};

/** The four quota bars of a project. */
export function QuotaBars(props: { quota: QuotaView }) {
  const q = props.quota;
  const ratio = (u: number, l: number) => (l === 0 ? (u > 0 ? 1 : 0) : u / l);
  return (
    <div class="grid gap-4 sm:grid-cols-2" data-quota-bars>
      <UsageBar
        label="VMs"
        used={String(q.vms.used)}
        limit={String(q.vms.limit)}
        ratio={ratio(q.vms.used, q.vms.limit)}
      />
      <UsageBar
        label="vCPUs"
        used={String(q.vcpus.used)}
        limit={String(q.vcpus.limit)}
        ratio={ratio(q.vcpus.used, q.vcpus.limit)}
      />
      <UsageBar label="Memory" used={q.memory.used} limit={q.memory.limit} ratio={q.memory.ratio} />
      <UsageBar
        label="Disk"
        used={`${q.disk.used} GB`}
        limit={`${q.disk.limit} GB`}
        ratio={ratio(q.disk.used, q.disk.limit)}
      />
    </div>
  );
}
