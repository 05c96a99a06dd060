/**
 * The hypervisor seam: what the agent's executor calls to run VMs on this host. One implementation
 * drives Cloud Hypervisor (./cloud-hypervisor/); tests run it against the simulator.
 */

/** Time, injected so timeouts (graceful shutdown, readiness) can be tested without waiting. */
export interface HypervisorClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemHypervisorClock: HypervisorClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type BootSource =
  | { kind: "kernel"; kernel: string; cmdline?: string; initramfs?: string }
  | { kind: "firmware"; firmware: string };

export type DiskSpec = {
  /** Our own id: CH would otherwise generate `_disk<N>`. */
  id: string;
  path: string;
  /** Always explicit: autodetected Raw images lose sector-0 writes. */
  format: "raw" | "qcow2";
  readonly?: boolean;
  /** A qcow2 overlay on a base image needs its backing file opened. */
  backingFiles?: boolean;
  serial?: string;
};

export type NicSpec = {
  id: string;
  /** A TAP the agent created; CH opens it by name (FDs cannot travel over vm.create). */
  tap: string;
  mac: string;
  mtu?: number;
};

export type VmSpec = {
  vcpus: number;
  maxVcpus?: number;
  memoryBytes: number;
  /** Extra RAM that `resize` may hot-plug later. */
  memoryHotplugBytes?: number;
  boot: BootSource;
  disks: DiskSpec[];
  nics: NicSpec[];
  /** Serial console log file; defaults to `serial.log` in the VM's run directory. */
  serialLog?: string;
  platform?: { uuid?: string; serialNumber?: string; oemStrings?: string[] };
  /** A pvpanic device, so a guest kernel panic shows up as a `guest/panic` event (default on). */
  pvpanic?: boolean;
};

/**
 * `created`: the VMM holds the definition but no guest runs (before the first boot, or after a
 * shutdown). `stopped`: the VMM process is gone (guest power-off, crash, kill). `unknown`: the
 * process lives but its API does not answer. `absent`: nothing is known about the VM.
 */
export type VmState = "created" | "running" | "paused" | "stopped" | "unknown" | "absent";

export type StopReason = {
  /** `guest-shutdown`: the guest powered off and the VMM exited cleanly; `vmm-exit`: the VMM
   * exited cleanly otherwise; `crashed`: it died without its shutdown event (signal, crash). */
  kind: "guest-shutdown" | "vmm-exit" | "crashed";
  detail: string;
  /** `source/event` of the last life-cycle event (`vm`, `vmm`, `guest`) the VMM wrote. */
  lastEvent?: string;
  signal?: string;
  exitCode?: number;
};

export type VmObservation = {
  vmId: string;
  state: VmState;
  /** The VMM process, when one is running. */
  pid?: number;
  /** Why the VM is not running, when the event log or the process exit tells. */
  reason?: StopReason;
  memoryActualBytes?: number;
  /** Device id → PCI BDF, while a VM object exists. */
  devices?: Record<string, string>;
  /** The hypervisor's own view of the configuration (with generated ids, MACs). */
  config?: Record<string, unknown>;
};

/** Per-device cumulative counters; they restart at 0 when the VM is rebuilt (boot, reboot). */
export type DeviceCounters = Record<string, Record<string, bigint>>;

export type HypervisorPing = {
  version: string;
  buildVersion?: string;
  pid?: number;
  features: string[];
};

export type ShutdownOptions = {
  /** Press the power button first and wait for the guest (default true). */
  graceful?: boolean;
  timeoutMs?: number;
};

export type ShutdownResult = VmObservation & {
  method: "graceful" | "forced" | "already-stopped";
};

export type HypervisorEvent = {
  source: string;
  event: string;
  properties: Record<string, string> | null;
  /** Seconds since the VMM started (not wall-clock time). */
  secs: number;
};

export interface Hypervisor {
  /**
   * Starts the VM's VMM, holding no VM yet, unless one already answers; `create` then uses it.
   * Lets the VMM start while disks are prepared. A VMM that does not come up is cleaned away.
   */
  launch(vmId: string): Promise<void>;
  /** Starts the VM's VMM if needed and defines the VM (not booted). */
  create(vmId: string, spec: VmSpec): Promise<VmObservation>;
  /** Boots a created VM; a stopped VM (VMM gone) gets a new VMM first. */
  boot(vmId: string): Promise<VmObservation>;
  shutdown(vmId: string, options?: ShutdownOptions): Promise<ShutdownResult>;
  reboot(vmId: string): Promise<VmObservation>;
  pause(vmId: string): Promise<VmObservation>;
  resume(vmId: string): Promise<VmObservation>;
  resize(
    vmId: string,
    size: { vcpus?: number; memoryBytes?: number; balloonBytes?: number },
  ): Promise<VmObservation>;
  resizeDisk(vmId: string, diskId: string, sizeBytes: number): Promise<VmObservation>;
  /** Hot-adds (running/paused: returns the BDF) or cold-adds (created) a disk. */
  addDisk(vmId: string, disk: DiskSpec): Promise<{ id: string; bdf?: string } & VmObservation>;
  removeDevice(vmId: string, deviceId: string): Promise<VmObservation>;
  /** Snapshots a paused VM into `dir`. */
  snapshot(vmId: string, dir: string): Promise<VmObservation>;
  /** Restores a snapshot into a fresh VMM for `vmId` (which must not be defined). */
  restore(vmId: string, dir: string, options?: { resume?: boolean }): Promise<VmObservation>;
  /** Stops the VMM hard and removes the VM's run directory; a no-op for an absent VM. */
  delete(vmId: string): Promise<void>;
  info(vmId: string): Promise<VmObservation>;
  counters(vmId: string): Promise<DeviceCounters>;
  ping(vmId: string): Promise<HypervisorPing>;
  /** Events written since the previous call (the position survives agent restarts). */
  events(vmId: string): Promise<HypervisorEvent[]>;
  /** Every VM with a run directory, observed now. */
  list(): Promise<VmObservation[]>;
  /** Re-attaches to the VMMs left running by a previous agent process. */
  adopt(): Promise<VmObservation[]>;
  /** Closes connections; running VMMs are left alone. */
  close(): Promise<void>;
}
