import type { ConsoleLog } from "../host/console-log";
import type { DiskStore } from "../host/disks";
import type { Exec } from "../host/exec";
import type { ImageCache } from "../host/images";
import type { Network } from "../host/network";
import type { BootSource, Hypervisor, HypervisorClock, StopReason } from "../hypervisor/hypervisor";
import type { AgentLog } from "../log";

/**
 * Observed states as the control plane knows them (`OBSERVED_STATES` in src/db/schema/vms.ts).
 * The agent reports the subset it can see on the host.
 */
export type ObservedState =
  | "provisioning"
  | "running"
  | "paused"
  | "stopping"
  | "stopped"
  | "deleting"
  | "deleted"
  | "error"
  | "unknown";

/** What the host saw, carried by every result (and by errors when known). */
export type Observed = {
  state: ObservedState;
  /** The VM's name on this host (its run directory, TAP and disk names derive from it). */
  hostVmId?: string;
  /** The VMM process, while one runs. */
  pid?: number;
  /** Why a VM is stopped, when the hypervisor's event log or the process exit tells. */
  reason?: StopReason;
  /** The size the hypervisor (or, without a VMM, the agent's record) has. */
  vcpus?: number;
  memoryMb?: number;
  diskGb?: number;
};

export type OpResult = { observed: Observed; output?: Record<string, unknown> };

export type VmOpContext = {
  /** The work item's `resource.id`: the VM id. */
  resourceId: string;
  /** Aborted on cancellation or shutdown; ops stop at their next step boundary. */
  signal?: AbortSignal;
  /**
   * The item's idempotency key (`idem`). Ops that are not naturally idempotent (restart) record
   * it when done, so a re-delivered item reports instead of acting twice.
   */
  idem?: string;
  /** A step done, for the item's log on the control plane (sent while the op runs). */
  progress?: (message: string, data?: Record<string, unknown>) => void;
};

export type VmOpHandler = (params: unknown, ctx: VmOpContext) => Promise<OpResult>;

/** The image cache calls the ops use (an `ImageCache`, or a fake in tests). */
export type ImageStore = Pick<ImageCache, "acquire" | "releaseHolder" | "pathOf">;

/** Gives the console log of a VM; `consoleLogsIn` is the usual one. */
export type ConsoleLogs = (vmId: string) => ConsoleLog;

export type VmNetworkConfig = {
  network: Network;
  /** The bridge every VM's first NIC joins. */
  bridge: string;
  mtu?: number;
};

export type VmOpsDeps = {
  hypervisor: Hypervisor;
  images: ImageStore;
  disks: DiskStore;
  /** Without it VMs get no NIC. */
  network?: VmNetworkConfig;
  consoleLogs: ConsoleLogs;
  /** For the cloud-init seed (mkfs.vfat, mcopy). */
  exec: Exec;
  /** Per-VM records and seeds live in `<stateDir>/vms/<vmId>/`. */
  stateDir: string;
  clock: HypervisorClock;
  log: AgentLog;
  /** How every VM boots: firmware (e.g. hypervisor-fw, CLOUDHV.fd) or a kernel. */
  boot: BootSource;
  /** How long an op waits for a VMM whose API is blocked (state `unknown`); default 120 s. */
  busyTimeoutMs?: number;
};
