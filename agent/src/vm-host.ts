import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { createDiskStore } from "./host/disks";
import { createExec } from "./host/exec";
import { ImageCache } from "./host/images";
import { createNetwork } from "./host/network";
import { checkHostTools, type HostToolWarning } from "./host/tools";
import { chooseHypervisorBinary } from "./hypervisor/binary";
import { CloudHypervisorDriver } from "./hypervisor/cloud-hypervisor/driver";
import { type BootSource, systemHypervisorClock } from "./hypervisor/hypervisor";
import type { AgentLog } from "./log";
import { consoleLogsIn, type InventoryEntry, VmOps, type VmOpsDeps } from "./ops";
import { TelemetryReader, withTelemetry } from "./vm-telemetry";

export type VmHostConfig = {
  stateDir: string;
  /** `CLOUD_HYPERVISOR_BIN`: wins over a `cloud-hypervisor` found on PATH. */
  chBinary?: string | undefined;
  boot: BootSource;
  /** Bridge every VM's NIC joins; without it VMs get no network. */
  bridge?: string | undefined;
  imageCacheBytes: number;
  consoleLogBytes: number;
  /**
   * `CH_SIM_*` variables (fault injection, request log) handed to the simulator's VMM processes;
   * ignored for a real Cloud Hypervisor, whose processes get no agent environment.
   */
  simulatorEnv?: Record<string, string>;
};

/** What a running agent needs for VMs: the ops, the host's VM inventory, and tool warnings. */
export type VmHost = {
  ops: VmOps;
  binary: string;
  simulated: boolean;
  warnings: HostToolWarning[];
  /**
   * The inventory for the status report, in the control plane's `{id, state, reason}` shape, with
   * `console_tail` and `counters` for running and paused VMs.
   */
  inventory(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
};

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

async function kvmUsable(): Promise<boolean> {
  try {
    await access("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** One inventory entry as the control plane reads it (src/domain/vms/inventory.ts). */
export function reportEntry(entry: InventoryEntry): Record<string, unknown> {
  return {
    id: entry.vmId,
    state: entry.state,
    managed: entry.managed,
    ...(entry.reason ? { reason: entry.reason.detail } : {}),
    ...(entry.pid !== undefined ? { pid: entry.pid } : {}),
    ...(entry.vcpus !== undefined ? { vcpus: entry.vcpus } : {}),
    ...(entry.memoryMb !== undefined ? { memory_mb: entry.memoryMb } : {}),
    ...(entry.diskGb !== undefined ? { disk_gb: entry.diskGb } : {}),
  };
}

/**
 * Builds the VM side of the agent under its state directory (`run/`, `images/`, `disks/`,
 * `console/`, `vms/`): the Cloud Hypervisor driver (the simulator where no real binary and KVM
 * exist), the image cache, disks, cloud-init seeds and, with a bridge, TAP networking.
 */
export async function openVmHost(config: VmHostConfig, log: AgentLog): Promise<VmHost> {
  const exec = createExec();
  const { binary, simulated } = chooseHypervisorBinary({
    configured: config.chBinary,
    installed: await onPath("cloud-hypervisor"),
    kvm: await kvmUsable(),
  });
  const driver = new CloudHypervisorDriver({
    binary,
    runRoot: join(config.stateDir, "run"),
    readyTimeoutMs: 20_000,
    ...(simulated && config.simulatorEnv ? { env: config.simulatorEnv } : {}),
  });
  const images = await ImageCache.open({
    dir: join(config.stateDir, "images"),
    maxBytes: config.imageCacheBytes,
    clock: systemHypervisorClock,
  });
  const deps: VmOpsDeps = {
    hypervisor: driver,
    images,
    disks: createDiskStore({ dir: join(config.stateDir, "disks"), exec }),
    ...(config.bridge
      ? { network: { network: createNetwork({ exec }), bridge: config.bridge } }
      : {}),
    consoleLogs: consoleLogsIn(join(config.stateDir, "console"), {
      maxBytes: config.consoleLogBytes,
      keep: 2,
    }),
    exec,
    stateDir: config.stateDir,
    clock: systemHypervisorClock,
    log,
    boot: config.boot,
  };
  const tools = await checkHostTools(exec);
  for (const warning of tools.warnings) log.warn(warning.message, { code: warning.code });
  if (simulated) log.warn("no cloud-hypervisor with /dev/kvm here: VMs run in the simulator");
  const ops = new VmOps(deps);
  const telemetry = new TelemetryReader(deps);
  return {
    ops,
    binary,
    simulated,
    warnings: tools.warnings,
    async inventory() {
      return withTelemetry(await ops.inventory(), telemetry, reportEntry);
    },
    async close() {
      await driver.close();
      await images.close();
    },
  };
}
