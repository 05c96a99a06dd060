import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiError, type Machine, NO_CONTENT, type Outcome } from "./machine";
import { isRecord, type Json, memoryActualSize, validateConfig, withDefaults } from "./vm-config";

export const VERSION = "53.0.0";
export const BUILD_VERSION = "v53.0";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function ping(): Outcome {
  const body = {
    build_version: BUILD_VERSION,
    version: VERSION,
    pid: process.pid,
    features: ["io_uring", "kvm"],
  };
  return { response: { status: 200, body: JSON.stringify(body) } };
}

export function info(m: Machine): Outcome {
  const config = m.config;
  if (!config) return apiError(404, "The VM info is not available", "VM is not created");
  const body: Json = {
    config,
    state: m.reportedState(),
    memory_actual_size: memoryActualSize(config),
  };
  // device_tree only exists while a VM object is owned (skip_serializing_none).
  if (m.vm) body.device_tree = m.vm.pci.deviceTree();
  return { response: { status: 200, body: JSON.stringify(body) } };
}

export function counters(m: Machine): Outcome {
  const vm = m.vm;
  if (!vm || (vm.state !== "Running" && vm.state !== "Paused"))
    return apiError(500, "The VM info is not available", "VM is not running");
  const body = vm.counters.toJson();
  // Guest I/O happens between reads; a paused guest does none.
  if (vm.state === "Running") vm.counters.tick();
  return { response: { status: 200, body } };
}

export async function create(m: Machine, body: Json): Promise<Outcome> {
  if (m.config) return apiError(500, "The VM could not be created", "VM is already created");
  // Stored before the consoles are set up, so a console failure leaves it behind (notes §b).
  const config = withDefaults(body);
  m.config = config;
  const consoleError = await m.prepareConsoles(config);
  if (consoleError) return apiError(500, "The VM could not be created", consoleError);
  return NO_CONTENT;
}

export function remove(m: Machine): Outcome {
  m.deleteVm();
  return NO_CONTENT;
}

export async function boot(m: Machine): Promise<Outcome> {
  const what = "The VM could not boot";
  if (!m.config) return apiError(404, what, "VM config is missing");
  if (m.vm) return apiError(500, what, "VM is already created");
  const invalid = validateConfig(m.config);
  if (invalid)
    return apiError(invalid.status, what, "Error validating configuration", invalid.message);
  const payload = m.config.payload;
  const hasBootItem =
    isRecord(payload) && ["kernel", "firmware", "igvm"].some((k) => typeof payload[k] === "string");
  const faults = m.ctx.faults;
  if (faults.bootDelayMs > 0) await sleep(faults.bootDelayMs);
  if (!hasBootItem) return apiError(500, what, "Error from VM", "PayloadError(MissingBootitem)");
  if (faults.bootFail === "new")
    return apiError(500, what, "Cannot create VM", "Simulated failure in Vm::new");
  const built = m.buildVm();
  if (!built.ok) return apiError(500, what, "Cannot create VM", built.message);
  m.ctx.emit("vm", "booting");
  m.vm = built.vm;
  if (faults.bootFail === "boot")
    return apiError(500, what, "Error booting VM", "Simulated failure in Vm::boot: disk lock held");
  m.ctx.emit("vm", "booted");
  m.startGuest(built.vm); // the guest's drivers activate the devices after boot
  return NO_CONTENT;
}

function running(m: Machine) {
  const vm = m.vm;
  return vm && vm.state !== "Created" ? vm : undefined;
}

export function pause(m: Machine): Outcome {
  const what = "The VM could not be paused";
  const vm = m.vm;
  if (!vm) return apiError(500, what, "VM is not running");
  if (vm.state === "Paused")
    return apiError(500, what, "Error pausing VM", "Invalid VM state transition: Paused to Paused");
  m.ctx.emit("vm", "pausing");
  vm.state = "Paused";
  m.ctx.emit("vm", "paused");
  return NO_CONTENT;
}

export function resume(m: Machine): Outcome {
  const what = "The VM could not resume";
  const vm = m.vm;
  if (!vm) return apiError(500, what, "VM is not running");
  if (vm.state !== "Paused")
    return apiError(
      500,
      what,
      "Error resuming VM",
      `Invalid VM state transition: ${vm.state} to Running`,
    );
  m.ctx.emit("vm", "resuming");
  vm.state = "Running";
  m.ctx.emit("vm", "resumed");
  if (vm.pendingPoweroff) m.guestTimer(vm, 0, () => m.guestPowerOff(vm));
  return NO_CONTENT;
}

export function shutdown(m: Machine): Outcome {
  // Created → Shutdown is a valid transition, so this also clears a failed boot (notes §b).
  if (!m.vm) return apiError(500, "The VM could not shutdown", "VM is not running");
  m.serial("reboot: Power down\n");
  m.dropVm();
  return NO_CONTENT;
}

export function reboot(m: Machine): Outcome {
  const what = "The VM could not reboot";
  if (!running(m)) return apiError(404, what, "VM is not created");
  const failed = m.rebootVm();
  if (failed) return apiError(500, what, "Cannot create VM", failed);
  return NO_CONTENT;
}

export function powerButton(m: Machine): Outcome {
  const vm = running(m);
  if (!vm) return apiError(500, "Error triggering power button", "VM is not running");
  const faults = m.ctx.faults;
  if (!faults.ignorePowerButton)
    m.guestTimer(vm, faults.powerButtonDelayMs, () => m.guestPowerOff(vm));
  return NO_CONTENT;
}

export function nmi(m: Machine): Outcome {
  if (!running(m)) return apiError(500, "Error injecting NMI", "VM is not running");
  return NO_CONTENT;
}

function fileUrl(url: unknown): string | undefined {
  return typeof url === "string" && url.startsWith("file://") ? url.slice(7) : undefined;
}

export function snapshot(m: Machine, body: Json): Outcome {
  const what = "The VM could not be snapshotted";
  const vm = running(m);
  if (!vm || !m.config) return apiError(500, what, "VM is not running");
  if (vm.state === "Running")
    return apiError(500, what, "Error from snapshot", "Trying to snapshot while VM is running");
  const dir = fileUrl(body.destination_url);
  if (!dir) return apiError(500, what, "Error from snapshot", "Invalid destination URL");
  m.ctx.emit("vm", "snapshotting");
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify(m.config));
    writeFileSync(join(dir, "state.json"), JSON.stringify({ simulator: true, state: vm.state }));
    writeFileSync(join(dir, "memory-ranges"), "");
  } catch (error) {
    return apiError(500, what, "Error from snapshot", error instanceof Error ? error.message : "");
  }
  m.ctx.emit("vm", "snapshotted");
  return NO_CONTENT;
}

export function restore(m: Machine, body: Json): Outcome {
  const what = "The VM could not be restored";
  if (m.config) return apiError(500, what, "VM is already created");
  const dir = fileUrl(body.source_url);
  const configPath = dir ? join(dir, "config.json") : undefined;
  m.ctx.emit("vm", "restoring");
  let config: unknown;
  try {
    if (!configPath || !existsSync(configPath)) throw new Error("Cannot read the snapshot config");
    config = JSON.parse(readFileSync(configPath, "utf8"));
    if (!isRecord(config)) throw new Error("Invalid snapshot config");
  } catch (error) {
    m.deleteVm(); // a failed restore deletes the VM (notes §b)
    return apiError(500, what, "Error restoring VM", error instanceof Error ? error.message : "");
  }
  m.config = config;
  const built = m.buildVm();
  if (!built.ok) {
    m.deleteVm();
    return apiError(500, what, "Error restoring VM", built.message);
  }
  built.vm.state = "Paused";
  m.vm = built.vm;
  m.ctx.emit("vm", "restored");
  if (body.resume === true) {
    m.ctx.emit("vm", "resuming");
    m.ctx.emit("vm", "resumed");
    m.startGuest(built.vm);
  }
  return NO_CONTENT;
}

/** vmm.shutdown: 200 with an empty body, then the process exits whatever happened. */
export function vmmShutdown(m: Machine): Outcome {
  return {
    response: { status: 200 },
    after: () => void m.run(() => m.vmmShutdown()),
  };
}

export function migration(m: Machine, send: boolean): Outcome {
  const what = send ? "Error sending migration" : "Error receiving migration";
  if (send && !running(m)) return apiError(500, what, "VM is not running");
  if (!send && running(m)) return apiError(500, what, "VM is already created");
  return apiError(500, what, "Migration is not supported by the simulator");
}
