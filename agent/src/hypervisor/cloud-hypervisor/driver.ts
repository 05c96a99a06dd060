import { readFile } from "node:fs/promises";
import {
  type DeviceCounters,
  type DiskSpec,
  type Hypervisor,
  type HypervisorClock,
  type HypervisorEvent,
  type HypervisorPing,
  type ShutdownOptions,
  type ShutdownResult,
  systemHypervisorClock,
  type VmObservation,
  type VmSpec,
  type VmState,
} from "../hypervisor";
import { type ApiTimeouts, type ChVmInfo, CloudHypervisorApi, DEFAULT_TIMEOUTS } from "./api";
import {
  CloudHypervisorApiError,
  VmmStartError,
  VmmTimeoutError,
  VmmUnavailableError,
  VmNotFoundError,
} from "./errors";
import { readEvents, stopReason } from "./event-log";
import { type ExitInfo, isVmmAlive, signal, spawnVmm, waitForExit } from "./process";
import { listVmIds, RunDir } from "./run-dir";
import { diskConfig, vmConfig } from "./vm-config";

export type CloudHypervisorOptions = {
  /** Path of the `cloud-hypervisor` binary (or the simulator); entry points read it from config. */
  binary: string;
  /** Parent of the per-VM run directories; keep it short (socket path limit). */
  runRoot: string;
  clock?: HypervisorClock;
  /** Pass `--no-shutdown`: a guest power-off leaves the VMM up with the VM in Created (default). */
  noShutdown?: boolean;
  /** How long a new VMM may take to answer `vmm.ping` (upstream tests allow 5 s). */
  readyTimeoutMs?: number;
  /** How long a graceful shutdown waits for the guest before forcing it. */
  shutdownTimeoutMs?: number;
  /** How long to wait for the process to exit after `vmm.shutdown` or a signal. */
  stopTimeoutMs?: number;
  timeouts?: ApiTimeouts;
  /** Extra environment and arguments for VMM processes (simulator faults in tests). */
  env?: Record<string, string>;
  extraArgs?: string[];
};

type Handle = {
  vmId: string;
  runDir: RunDir;
  /** Operations, one at a time. */
  api: CloudHypervisorApi;
  /** A second connection for ping/info, so a status check is not queued behind a long boot
   * (CH still answers serially; a blocked VMM then shows as `unknown`). */
  probe: CloudHypervisorApi;
  /** The process this driver instance spawned last, and its exit status once it ended. */
  spawnedPid?: number;
  exit?: ExitInfo;
  exited?: Promise<ExitInfo>;
};

const STATE: Record<ChVmInfo["state"], VmState> = {
  Created: "created",
  Running: "running",
  Paused: "paused",
  // Never reported by vm.info (notes §b); mapped for completeness.
  Shutdown: "created",
  BreakPoint: "paused",
};

/** The Cloud Hypervisor implementation of the hypervisor seam: one VMM process per VM. */
export class CloudHypervisorDriver implements Hypervisor {
  readonly #options: Required<Omit<CloudHypervisorOptions, "clock" | "timeouts">>;
  readonly #clock: HypervisorClock;
  readonly #timeouts: ApiTimeouts;
  readonly #handles = new Map<string, Handle>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(options: CloudHypervisorOptions) {
    this.#options = {
      binary: options.binary,
      runRoot: options.runRoot,
      noShutdown: options.noShutdown ?? true,
      readyTimeoutMs: options.readyTimeoutMs ?? 5_000,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 30_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
      env: options.env ?? {},
      extraArgs: options.extraArgs ?? [],
    };
    this.#clock = options.clock ?? systemHypervisorClock;
    this.#timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  }

  #handle(vmId: string): Handle {
    let h = this.#handles.get(vmId);
    if (!h) {
      const runDir = new RunDir(this.#options.runRoot, vmId);
      h = {
        vmId,
        runDir,
        api: new CloudHypervisorApi(runDir.socket, this.#timeouts),
        probe: new CloudHypervisorApi(runDir.socket, this.#timeouts),
      };
      this.#handles.set(vmId, h);
    }
    return h;
  }

  /** One mutating operation per VM at a time. */
  #exclusive<T>(vmId: string, fn: (h: Handle) => Promise<T>): Promise<T> {
    const previous = this.#locks.get(vmId) ?? Promise.resolve();
    const next = previous.then(
      () => fn(this.#handle(vmId)),
      () => fn(this.#handle(vmId)),
    );
    this.#locks.set(
      vmId,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Reads the real state: socket → ping (pid) → vm.info; a dead VMM gets its stop reason. */
  async #observe(h: Handle): Promise<VmObservation> {
    const vmId = h.vmId;
    if (!h.runDir.exists()) return { vmId, state: "absent" };
    const record = await h.runDir.readVmm();
    let pid: number | undefined;
    try {
      const ping = await h.probe.ping();
      pid = ping.pid ?? record?.pid;
      // Adopt the process that actually answers on our socket.
      if (record && pid !== undefined && pid !== record.pid)
        await h.runDir.writeVmm({ ...record, pid });
    } catch (error) {
      if (!(error instanceof VmmUnavailableError || error instanceof VmmTimeoutError)) throw error;
      // Alive but not answering (blocked, or its socket was removed): never report it stopped,
      // or a boot would start a second VMM on the same disks.
      if (record && isVmmAlive(record.pid, h.runDir.socket))
        return { vmId, state: "unknown", pid: record.pid };
      // Our own child: give its exit status a moment to arrive, it names the signal or code.
      if (h.exited && !h.exit) await Promise.race([h.exited, this.#clock.sleep(500)]);
      const { events } = await readEvents(h.runDir.eventFile, 0);
      return { vmId, state: "stopped", reason: stopReason(events, h.exit) };
    }
    const withPid = pid !== undefined ? { pid } : {};
    let info: ChVmInfo;
    try {
      info = await h.probe.info();
    } catch (error) {
      // 404: the VMM runs but holds no VM (after a failed create or restore).
      if (error instanceof CloudHypervisorApiError && error.status === 404)
        return { vmId, state: "stopped", ...withPid };
      throw error;
    }
    const devices: Record<string, string> = {};
    for (const [id, node] of Object.entries(info.device_tree ?? {}))
      if (typeof node.pci_bdf === "string") devices[id] = node.pci_bdf;
    return {
      vmId,
      state: STATE[info.state] ?? "unknown",
      ...withPid,
      ...(info.memory_actual_size !== undefined
        ? { memoryActualBytes: info.memory_actual_size }
        : {}),
      ...(info.device_tree ? { devices } : {}),
      config: info.config,
    };
  }

  async #vmmAlive(h: Handle): Promise<boolean> {
    try {
      await h.probe.ping();
      return true;
    } catch (error) {
      if (error instanceof VmmUnavailableError) return false;
      throw error;
    }
  }

  /** Spawns the VMM and waits until `vmm.ping` answers. */
  async #start(h: Handle): Promise<void> {
    await h.runDir.create();
    const started = spawnVmm({
      binary: this.#options.binary,
      runDir: h.runDir,
      noShutdown: this.#options.noShutdown,
      extraArgs: this.#options.extraArgs,
      env: this.#options.env,
    });
    delete h.exit;
    h.spawnedPid = started.pid;
    h.exited = started.exited;
    void started.exited.then((exit) => {
      // A previous process may report its exit late; only the current one counts.
      if (h.spawnedPid === started.pid) h.exit = exit;
    });
    await h.runDir.writeVmm({
      pid: started.pid,
      startedAt: this.#clock.now(),
      binary: this.#options.binary,
    });
    await h.runDir.writeOffset(0); // `path=` truncates the event file
    const deadline = this.#clock.now() + this.#options.readyTimeoutMs;
    for (;;) {
      if (h.exit)
        throw new VmmStartError(`VMM for ${h.vmId} exited at start: ${await this.#tail(h)}`);
      try {
        await h.api.ping();
        return;
      } catch (error) {
        if (!(error instanceof VmmUnavailableError)) throw error;
      }
      if (this.#clock.now() >= deadline) {
        signal(started.pid, "SIGKILL");
        throw new VmmStartError(
          `VMM for ${h.vmId} not ready in ${this.#options.readyTimeoutMs} ms`,
        );
      }
      await this.#clock.sleep(25);
    }
  }

  async #tail(h: Handle): Promise<string> {
    const text = await readFile(h.runDir.stdioFile, "utf8").catch(() => "");
    return text.trim().split("\n").slice(-5).join("\n") || `exit ${JSON.stringify(h.exit)}`;
  }

  /** Stops the VMM process: vmm.shutdown, then SIGTERM, then SIGKILL. */
  async #stopVmm(h: Handle): Promise<void> {
    const record = await h.runDir.readVmm();
    const pid = record?.pid;
    const socket = h.runDir.socket;
    const wait = (ms: number) =>
      pid === undefined ? Promise.resolve(true) : waitForExit(pid, socket, ms, this.#clock);
    try {
      await h.api.call("PUT", "vmm.shutdown", undefined, this.#timeouts.shortMs);
    } catch {
      // Dead or hung: signals follow.
    }
    await Promise.all([h.api.close(), h.probe.close()]);
    if (pid === undefined || (await wait(this.#options.stopTimeoutMs))) return;
    signal(pid, "SIGTERM");
    if (await wait(this.#options.stopTimeoutMs)) return;
    signal(pid, "SIGKILL");
    await wait(this.#options.stopTimeoutMs);
  }

  launch(vmId: string): Promise<void> {
    return this.#exclusive(vmId, async (h) => {
      if (h.runDir.exists() && (await this.#vmmAlive(h))) return;
      try {
        await this.#start(h);
      } catch (error) {
        await this.#cleanupFailedCreate(h);
        throw error;
      }
    });
  }

  create(vmId: string, spec: VmSpec): Promise<VmObservation> {
    return this.#exclusive(vmId, async (h) => {
      const existed = h.runDir.exists();
      const config = vmConfig(spec, spec.serialLog ?? h.runDir.serialLog);
      const alive = existed && (await this.#vmmAlive(h));
      const before = alive ? await this.#observe(h) : undefined;
      if (before && before.state !== "stopped") {
        // Already defined: let CH answer (500 "VM is already created"), change nothing.
        await h.api.put("vm.create", config);
      }
      await h.runDir.create();
      await h.runDir.writeConfig(config);
      try {
        if (!alive) await this.#start(h);
        await h.api.put("vm.create", config);
      } catch (error) {
        await this.#cleanupFailedCreate(h);
        throw error;
      }
      return this.#observe(h);
    });
  }

  /** The config is stored before console setup, so delete it; then drop the VMM and files. */
  async #cleanupFailedCreate(h: Handle): Promise<void> {
    try {
      await h.api.put("vm.delete");
    } catch {
      // The VMM may be gone already.
    }
    await this.#stopVmm(h);
    await h.runDir.remove();
    this.#handles.delete(h.vmId);
  }

  boot(vmId: string): Promise<VmObservation> {
    return this.#exclusive(vmId, async (h) => {
      if (!h.runDir.exists()) throw new VmNotFoundError(`no VM ${vmId}`);
      const before = await this.#observe(h);
      if (before.state === "stopped") {
        // The VMM is gone or empty: define the VM again from the saved config.
        const config = await h.runDir.readConfig();
        if (!config) throw new VmNotFoundError(`no saved config for ${vmId}`);
        if (before.pid === undefined) await this.#start(h);
        await h.api.put("vm.create", config);
      }
      try {
        await h.api.put("vm.boot");
      } catch (error) {
        if (error instanceof CloudHypervisorApiError) await this.#recoverFailedBoot(h);
        throw error;
      }
      return this.#observe(h);
    });
  }

  /**
   * A boot that failed after Vm::new leaves a VM object in Created (it has a device tree) and a
   * retry would get "already created": drop it with vm.shutdown (notes §b).
   */
  async #recoverFailedBoot(h: Handle): Promise<void> {
    try {
      const info = await h.api.info();
      if (info.state === "Created" && info.device_tree) await h.api.put("vm.shutdown");
    } catch {
      // Best effort; the caller reports the boot error.
    }
  }

  shutdown(vmId: string, options: ShutdownOptions = {}): Promise<ShutdownResult> {
    return this.#exclusive(vmId, async (h) => {
      const before = await this.#observe(h);
      if (before.state !== "running" && before.state !== "paused")
        return { ...before, method: "already-stopped" };
      // A paused guest cannot react to the power button.
      if ((options.graceful ?? true) && before.state === "running") {
        const timeout = options.timeoutMs ?? this.#options.shutdownTimeoutMs;
        if (await this.#gracefulStop(h, before.pid, timeout))
          return { ...(await this.#observe(h)), method: "graceful" };
      }
      try {
        await h.api.put("vm.shutdown");
      } catch (error) {
        const now = await this.#observe(h);
        // The guest may have finished on its own meanwhile.
        if (now.state !== "running" && now.state !== "paused") return { ...now, method: "forced" };
        if (error instanceof CloudHypervisorApiError) throw error;
        await this.#stopVmm(h);
      }
      return { ...(await this.#observe(h)), method: "forced" };
    });
  }

  /** Power button, then wait for `vm/shutdown` or the process exit, up to `timeoutMs`. */
  async #gracefulStop(h: Handle, pid: number | undefined, timeoutMs: number): Promise<boolean> {
    const { offset } = await readEvents(h.runDir.eventFile, 0);
    await h.api.put("vm.power-button");
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      const { events } = await readEvents(h.runDir.eventFile, offset);
      const shutDown = events.some((e) => e.source === "vm" && e.event === "shutdown");
      const exited = pid !== undefined && !isVmmAlive(pid, h.runDir.socket);
      if (exited) return true;
      if (shutDown) {
        // Without --no-shutdown the process exits next; let it finish.
        if (!this.#options.noShutdown && pid !== undefined)
          await waitForExit(pid, h.runDir.socket, this.#options.stopTimeoutMs, this.#clock);
        return true;
      }
      if (this.#clock.now() >= deadline) return false;
      await this.#clock.sleep(50);
    }
  }

  #simple(vmId: string, endpoint: string, body?: unknown): Promise<VmObservation> {
    return this.#exclusive(vmId, async (h) => {
      await h.api.put(endpoint, body);
      return this.#observe(h);
    });
  }

  reboot(vmId: string): Promise<VmObservation> {
    return this.#simple(vmId, "vm.reboot");
  }

  pause(vmId: string): Promise<VmObservation> {
    return this.#simple(vmId, "vm.pause");
  }

  resume(vmId: string): Promise<VmObservation> {
    return this.#simple(vmId, "vm.resume");
  }

  resize(
    vmId: string,
    size: { vcpus?: number; memoryBytes?: number; balloonBytes?: number },
  ): Promise<VmObservation> {
    return this.#simple(vmId, "vm.resize", {
      ...(size.vcpus !== undefined ? { desired_vcpus: size.vcpus } : {}),
      ...(size.memoryBytes !== undefined ? { desired_ram: size.memoryBytes } : {}),
      ...(size.balloonBytes !== undefined ? { desired_balloon: size.balloonBytes } : {}),
    });
  }

  resizeDisk(vmId: string, diskId: string, sizeBytes: number): Promise<VmObservation> {
    return this.#simple(vmId, "vm.resize-disk", { id: diskId, desired_size: sizeBytes });
  }

  addDisk(vmId: string, disk: DiskSpec): Promise<{ id: string; bdf?: string } & VmObservation> {
    return this.#exclusive(vmId, async (h) => {
      const body = diskConfig(disk);
      const added = await h.api.add("vm.add-disk", body);
      // Keep the saved config in step, so a new VMM gets the disk too.
      const saved = await h.runDir.readConfig();
      if (saved) {
        const disks = Array.isArray(saved.disks) ? saved.disks : [];
        await h.runDir.writeConfig({ ...saved, disks: [...disks, body] });
      }
      const observation = await this.#observe(h);
      return { ...observation, id: added?.id ?? disk.id, ...(added ? { bdf: added.bdf } : {}) };
    });
  }

  removeDevice(vmId: string, deviceId: string): Promise<VmObservation> {
    return this.#exclusive(vmId, async (h) => {
      await h.api.put("vm.remove-device", { id: deviceId });
      const saved = await h.runDir.readConfig();
      if (saved) {
        const without = (list: unknown) =>
          Array.isArray(list)
            ? list.filter((d: unknown) => (d as { id?: unknown } | null)?.id !== deviceId)
            : list;
        await h.runDir.writeConfig({
          ...saved,
          disks: without(saved.disks),
          net: without(saved.net),
        });
      }
      return this.#observe(h);
    });
  }

  snapshot(vmId: string, dir: string): Promise<VmObservation> {
    return this.#simple(vmId, "vm.snapshot", { destination_url: `file://${dir}` });
  }

  restore(vmId: string, dir: string, options: { resume?: boolean } = {}): Promise<VmObservation> {
    return this.#exclusive(vmId, async (h) => {
      const existed = h.runDir.exists();
      if (!existed || !(await this.#vmmAlive(h))) await this.#start(h);
      try {
        await h.api.put("vm.restore", {
          source_url: `file://${dir}`,
          ...(options.resume !== undefined ? { resume: options.resume } : {}),
        });
      } catch (error) {
        if (!existed) await this.#cleanupFailedCreate(h);
        throw error;
      }
      const observation = await this.#observe(h);
      if (observation.config) await h.runDir.writeConfig(observation.config);
      return observation;
    });
  }

  delete(vmId: string): Promise<void> {
    return this.#exclusive(vmId, async (h) => {
      if (!h.runDir.exists()) return;
      await this.#stopVmm(h);
      await h.runDir.remove();
      this.#handles.delete(vmId);
    });
  }

  info(vmId: string): Promise<VmObservation> {
    return this.#observe(this.#handle(vmId));
  }

  counters(vmId: string): Promise<DeviceCounters> {
    return this.#handle(vmId).api.counters();
  }

  async ping(vmId: string): Promise<HypervisorPing> {
    const ping = await this.#handle(vmId).probe.ping();
    return {
      version: ping.version,
      ...(ping.build_version !== undefined ? { buildVersion: ping.build_version } : {}),
      ...(ping.pid !== undefined ? { pid: ping.pid } : {}),
      features: ping.features ?? [],
    };
  }

  async events(vmId: string): Promise<HypervisorEvent[]> {
    const h = this.#handle(vmId);
    if (!h.runDir.exists()) return [];
    const { events, offset } = await readEvents(h.runDir.eventFile, await h.runDir.readOffset());
    await h.runDir.writeOffset(offset);
    return events;
  }

  async list(): Promise<VmObservation[]> {
    const ids = await listVmIds(this.#options.runRoot);
    // One VMM that fails to answer (it exits between ping and info, a timeout) is `unknown`; the
    // others are still reported, so one VM cannot drop the host's whole status report.
    const seen = await Promise.allSettled(ids.map((id) => this.info(id)));
    return seen.map((result, i): VmObservation => {
      return result.status === "fulfilled"
        ? result.value
        : { vmId: ids[i] ?? "", state: "unknown" };
    });
  }

  /** After an agent restart: every run directory, checked through socket → ping pid → info. */
  adopt(): Promise<VmObservation[]> {
    return this.list();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#handles.values()].flatMap((h) => [h.api.close(), h.probe.close()]));
    this.#handles.clear();
  }
}
