import { appendFileSync, writeFileSync } from "node:fs";
import { DeviceCounters } from "./counters";
import type { Emit } from "./events";
import type { Faults } from "./faults";
import type { HttpResponse } from "./http-server";
import { PciBus } from "./pci";
import { SerialSocket } from "./serial-socket";
import { assignIds, DEVICE_LISTS, isRecord, type Json, records } from "./vm-config";

/** The VM object's own state; `Shutdown` is never observable, the object is dropped instead. */
export type VmObjectState = "Created" | "Running" | "Paused";

export type VmObject = {
  state: VmObjectState;
  pci: PciBus;
  counters: DeviceCounters;
  timers: Set<NodeJS.Timeout>;
  /** The guest asked to power off while paused; it happens on resume. */
  pendingPoweroff: boolean;
  /** A vCPU removal the guest has not acknowledged yet (vm.resize answers 429 meanwhile). */
  pendingCpuRemoval: boolean;
};

export type MachineContext = {
  emit: Emit;
  faults: Faults;
  noShutdown: boolean;
  /** Seeds generated MACs so they are stable per socket path. */
  seed: string;
  log(line: string): void;
  /** Ends the process: `clean` removes the socket like CH's normal exit. */
  exit(code: number, clean: boolean): void;
};

export type Outcome = { response: HttpResponse; after?: () => void };

export const NO_CONTENT: Outcome = { response: { status: 204 } };

/** An error response: the chain from "Error from API" down to the root cause. */
export function apiError(status: number, ...chain: string[]): Outcome {
  return { response: { status, body: JSON.stringify(["Error from API", ...chain]) } };
}

/**
 * The two layers of notes §b: an optional stored config, and an optional owned VM object. All
 * mutations go through `run`, the simulator's stand-in for CH's single VMM control loop.
 */
export class Machine {
  config: Json | undefined;
  vm: VmObject | undefined;
  serialSocket: SerialSocket | undefined;
  readonly ctx: MachineContext;
  #loop: Promise<unknown> = Promise.resolve();

  constructor(ctx: MachineContext) {
    this.ctx = ctx;
  }

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.#loop.then(fn);
    this.#loop = next.catch(() => undefined);
    return next;
  }

  /** What `vm.info` reports: Created whenever a config exists and no VM object is owned. */
  reportedState(): "NotCreated" | VmObjectState {
    if (!this.config) return "NotCreated";
    return this.vm?.state ?? "Created";
  }

  /** Builds the VM object from the config: ids, BDFs, counters (Vm::new). */
  buildVm(): { ok: true; vm: VmObject } | { ok: false; message: string } {
    const config = this.config;
    if (!config) return { ok: false, message: "VM config is missing" };
    assignIds(config, this.ctx.seed);
    const pci = new PciBus();
    const counters = new DeviceCounters(this.ctx.faults.counterStart);
    const console = config.console;
    const wanted: Array<{ id: string; requested?: number }> = [];
    if (isRecord(console) && console.mode !== "Off") wanted.push({ id: "__console" });
    const devicesOf = (list: (typeof DEVICE_LISTS)[number]) =>
      records(config[list]).map((d) => ({
        id: String(d.id),
        ...(typeof d.pci_device_id === "number" ? { requested: d.pci_device_id } : {}),
      }));
    wanted.push(...devicesOf("disks"), ...devicesOf("net"), { id: "__rng" });
    for (const list of DEVICE_LISTS)
      if (list !== "disks" && list !== "net") wanted.push(...devicesOf(list));
    if (isRecord(config.vsock)) wanted.push({ id: String(config.vsock.id) });
    if (isRecord(config.balloon)) wanted.push({ id: "__balloon" });
    if (config.watchdog === true) wanted.push({ id: "__watchdog" });
    for (const device of wanted) {
      const allocated = pci.allocate(device.id, device.requested);
      if (!allocated.ok) return { ok: false, message: allocated.message };
    }
    for (const disk of records(config.disks))
      if (disk.vhost_user !== true) counters.add(String(disk.id), "block");
    for (const net of records(config.net))
      if (net.vhost_user !== true) counters.add(String(net.id), "net");
    return {
      ok: true,
      vm: {
        state: "Created",
        pci,
        counters,
        timers: new Set(),
        pendingPoweroff: false,
        pendingCpuRemoval: false,
      },
    };
  }

  /** Ids of the devices whose virtio drivers the guest activates (events `activated`/`reset`). */
  virtioDeviceIds(): string[] {
    const config = this.config;
    if (!config) return [];
    return [...records(config.disks), ...records(config.net)]
      .filter((d) => d.vhost_user !== true)
      .map((d) => String(d.id));
  }

  /** The guest came up: events, serial output, and the scheduled power-off fault. */
  startGuest(vm: VmObject): void {
    vm.state = "Running";
    for (const id of this.virtioDeviceIds()) this.ctx.emit("virtio-device", "activated", { id });
    this.serial("[    0.000000] Linux version 6.12.0 (cloud-hypervisor simulator)\n");
    const { poweroffAfterMs, rebootAfterMs, panicAfterMs } = this.ctx.faults;
    if (poweroffAfterMs !== undefined)
      this.guestTimer(vm, poweroffAfterMs, () => this.guestPowerOff(vm));
    if (rebootAfterMs !== undefined)
      this.guestTimer(vm, rebootAfterMs, () => {
        // Guest reboot, watchdog or ACPI reset: R→R in the same process (EpollDispatch::Reset).
        if (vm.state === "Running") this.rebootVm();
      });
    if (panicAfterMs !== undefined)
      this.guestTimer(vm, panicAfterMs, () => {
        // Only a pvpanic device lets the guest report it.
        if (this.config?.pvpanic === true) this.ctx.emit("guest", "panic", { event: "panicked" });
      });
  }

  /** vm_reboot: a new VM object from the same config; counters restart. */
  rebootVm(): string | undefined {
    this.ctx.emit("vm", "rebooting");
    const old = this.vm;
    if (old) for (const t of old.timers) clearTimeout(t);
    for (const id of this.virtioDeviceIds()) this.ctx.emit("virtio-device", "reset", { id });
    const built = this.buildVm();
    if (!built.ok) {
      this.vm = undefined;
      return built.message;
    }
    this.vm = built.vm;
    this.ctx.emit("vm", "rebooted");
    this.startGuest(built.vm);
    return undefined;
  }

  /** Runs `fn` on the VMM loop after `ms`, unless the VM object is gone by then. */
  guestTimer(vm: VmObject, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      vm.timers.delete(timer);
      void this.run(() => {
        if (this.vm === vm) fn();
      });
    }, ms);
    vm.timers.add(timer);
  }

  /** Drops the owned VM object after moving it to Shutdown (vm_shutdown). */
  dropVm(): void {
    const vm = this.vm;
    if (!vm) return;
    for (const t of vm.timers) clearTimeout(t);
    if (vm.state !== "Created")
      for (const id of this.virtioDeviceIds()) this.ctx.emit("virtio-device", "reset", { id });
    this.vm = undefined;
    this.ctx.emit("vm", "shutdown");
  }

  /** vm_delete: shut down if owned, then forget the config. */
  deleteVm(): void {
    const hadConfig = this.config !== undefined;
    this.dropVm();
    this.serialSocket?.close();
    this.serialSocket = undefined;
    this.config = undefined;
    if (hadConfig) this.ctx.emit("vm", "deleted");
  }

  /** The guest powered itself off (ACPI S5), notes §b. */
  guestPowerOff(vm: VmObject): void {
    if (vm.state === "Paused") {
      vm.pendingPoweroff = true;
      return;
    }
    this.serial("reboot: Power down\n");
    if (this.ctx.noShutdown) {
      this.dropVm();
      return;
    }
    this.vmmShutdown();
  }

  /** vmm_shutdown: delete, `vmm/shutdown`, and a clean exit with code 0. */
  vmmShutdown(): void {
    this.deleteVm();
    this.ctx.emit("vmm", "shutdown");
    this.ctx.exit(0, true);
  }

  /** Guest output to a `File` serial or console, or to the serial socket. */
  serial(text: string): void {
    this.serialSocket?.write(text);
    for (const key of ["serial", "console"]) {
      const c = this.config?.[key];
      if (isRecord(c) && c.mode === "File" && typeof c.file === "string") {
        try {
          appendFileSync(c.file, text);
        } catch {
          // Guest output is best-effort.
        }
      }
    }
  }

  /** Opens console files and the serial socket at vm.create (pre_create_console_devices). */
  async prepareConsoles(config: Json): Promise<string | undefined> {
    const console = config.console;
    if (isRecord(console) && console.mode === "Socket")
      return "Error creating console devices: socket mode is only supported for the serial port";
    const serial = config.serial;
    if (isRecord(serial) && serial.mode === "Socket") {
      if (typeof serial.socket !== "string") return "Error creating serial socket: path is missing";
      try {
        this.serialSocket = await SerialSocket.bind(serial.socket);
      } catch (error) {
        return error instanceof Error ? error.message : "Error creating serial socket";
      }
    }
    let pty = 0;
    for (const key of ["serial", "console"]) {
      const c = config[key];
      if (!isRecord(c)) continue;
      if (c.mode === "File") {
        if (typeof c.file !== "string") return `Error creating ${key} output file: path is missing`;
        try {
          writeFileSync(c.file, "");
        } catch (error) {
          return `Error creating ${key} output file: ${error instanceof Error ? error.message : ""}`;
        }
      }
      // No real PTYs: a plausible path is written back, as CH does with the real one.
      if (c.mode === "Pty") c.file = `/dev/pts/${90 + pty++}`;
    }
    return undefined;
  }
}
