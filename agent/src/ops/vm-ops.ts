import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { VM_BOOTING_STEP } from "../../../src/protocol/agent-api";
import { buildSeedImage, renderSeedFiles, type SeedSpec } from "../host/cloud-init";
import type { VmDisk } from "../host/disks";
import { macAddress, type TapDevice, tapName } from "../host/network";
import type { NicSpec, VmObservation, VmSpec } from "../hypervisor/hypervisor";
import { toVmOpError, VmOpError } from "./errors";
import { type CreateParams, checkVmId, type ResizeParams, type StopParams } from "./params";
import { type VmRecord, VmRecords } from "./records";
import type { Observed, OpResult, VmOpContext, VmOpsDeps } from "./types";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ROOT_DISK = "root";
const SEED_DISK = "seed";
const NIC_ID = "nic0";

/** One VM of the host, as the agent's status report carries it. */
export type InventoryEntry = Observed & {
  vmId: string;
  hostVmId: string;
  name?: string;
  /** False for a VMM run directory the agent has no record of (left over, or made by hand). */
  managed: boolean;
};

type Resources = {
  image: { sha256: string; path: string };
  disk: VmDisk;
  seedPath: string;
  tap?: TapDevice;
};

/**
 * The VM operations the agent's executor runs. Every op first reads the real state (the
 * hypervisor's `info`, files, TAPs) and only does what is missing, so a re-delivered item, or one
 * resumed after the agent was killed, converges to the same VM instead of failing or making a
 * second one. Ops on one VM run one at a time.
 */
export class VmOps {
  readonly #deps: VmOpsDeps;
  readonly records: VmRecords;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(deps: VmOpsDeps) {
    this.#deps = deps;
    this.records = new VmRecords(deps.stateDir);
  }

  // ---------------------------------------------------------------- ops

  /** Image → disk → seed → TAP → hypervisor create + boot; the VM ends `running`. */
  create(params: CreateParams, ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.create", ctx, async (vmId) => {
      const now = this.#deps.clock.now();
      const existing = await this.records.read(vmId);
      if (existing?.phase === "deleting")
        throw new VmOpError("invalid_state", `VM ${vmId} is being deleted`);
      let obs = await this.#settle(vmId, ctx);
      if (existing?.phase === "provisioned") {
        // Done before: a re-delivered create reports, it never boots a VM stopped since.
        return { observed: this.#observed(obs, existing), output: this.#createOutput(existing) };
      }
      const record: VmRecord = {
        version: 1,
        vmId,
        name: params.name,
        vcpus: params.vcpus,
        memoryMb: params.memoryMb,
        diskGb: params.diskGb,
        image: {
          id: params.image.id,
          url: params.image.url,
          sha256: params.image.sha256.toLowerCase(),
          format: params.image.format,
          ...(params.image.sizeBytes !== undefined ? { sizeBytes: params.image.sizeBytes } : {}),
        },
        sshKeys: params.sshKeys,
        userData: params.userData,
        phase: "provisioning",
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await this.records.write(record);
      try {
        if (obs.state !== "running" && obs.state !== "paused") {
          const resources = await this.#resourcesWhileLaunching(record, obs, ctx);
          obs = await this.#bootFrom(record, resources, obs, ctx);
        }
        if (obs.state !== "running" && obs.state !== "paused") {
          throw new VmOpError("hypervisor_error", `VM ${vmId} is ${obs.state} after boot`, {
            retryable: true,
            observed: this.#observed(obs, record),
          });
        }
        await this.records.write({ ...record, phase: "provisioned", updatedAt: this.#now() });
        return { observed: this.#observed(obs, record), output: this.#createOutput(record) };
      } catch (error) {
        const failure = toVmOpError(error);
        if (!failure.retryable && failure.code !== "cancelled")
          await this.#noteError(vmId, "vm.create", failure);
        throw failure;
      }
    });
  }

  #createOutput(record: VmRecord): Record<string, unknown> {
    const { vmId } = record;
    return {
      image: { id: record.image.id, sha256: record.image.sha256 },
      disk: {
        path: this.#deps.disks.pathFor(vmId, ROOT_DISK, "qcow2"),
        sizeBytes: record.diskGb * GiB,
      },
      ...(this.#deps.network
        ? {
            nic: {
              tap: tapName(vmId, 0),
              mac: macAddress(vmId, 0),
              bridge: this.#deps.network.bridge,
            },
          }
        : {}),
    };
  }

  /** Boots a created or stopped VM (a new VMM from the record if needed); `running`. */
  start(ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.start", ctx, async (vmId) => {
      const { record, obs } = await this.#existing(vmId, ctx);
      if (obs.state === "running") return { observed: this.#observed(obs, record) };
      if (obs.state === "paused")
        return { observed: this.#observed(await this.#deps.hypervisor.resume(vmId), record) };
      if (!record)
        throw new VmOpError("vm_not_found", `VM ${vmId} has no record to start it from`, {
          observed: this.#observed(obs, record),
        });
      const resources = await this.#ensureResources(record, ctx);
      const after = await this.#bootFrom(record, resources, obs, ctx);
      return { observed: this.#observed(after, record) };
    });
  }

  /** Power button and wait up to `timeoutS`, then forced (or forced at once); `stopped`. */
  stop(params: StopParams, ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.stop", ctx, async (vmId) => {
      const { record, obs } = await this.#existing(vmId, ctx);
      if (obs.state !== "running" && obs.state !== "paused")
        return { observed: this.#observed(obs, record) };
      this.#deps.log.info("vm.stop: shutting down", { vmId, graceful: params.graceful });
      const result = await this.#deps.hypervisor.shutdown(vmId, {
        graceful: params.graceful,
        timeoutMs: params.timeoutS * 1000,
      });
      return { observed: this.#observed(result, record), output: { method: result.method } };
    });
  }

  /** Reboots a running VM (boots a stopped one); `running`. */
  restart(ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.restart", ctx, async (vmId) => {
      const { record, obs } = await this.#existing(vmId, ctx);
      const done = ctx.idem ? record?.completed?.find((c) => c.idem === ctx.idem) : undefined;
      if (done) return { observed: this.#observed(obs, record), output: { method: "already" } };
      let after: VmObservation;
      let method: string;
      if (obs.state === "running" || obs.state === "paused") {
        after = await this.#deps.hypervisor.reboot(vmId);
        method = "reboot";
        if (after.state === "paused") after = await this.#deps.hypervisor.resume(vmId);
      } else {
        if (!record) throw new VmOpError("vm_not_found", `VM ${vmId} has no record to boot it`);
        const resources = await this.#ensureResources(record, ctx);
        after = await this.#bootFrom(record, resources, obs, ctx);
        method = "boot";
      }
      const observed = this.#observed(after, record);
      if (record && ctx.idem) {
        const completed = [
          ...(record.completed ?? []),
          { idem: ctx.idem, op: "vm.restart", at: this.#now(), observed },
        ];
        await this.records.write({ ...record, completed, updatedAt: this.#now() });
      }
      return { observed, output: { method } };
    });
  }

  pause(ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.pause", ctx, async (vmId) => {
      const { record, obs } = await this.#existing(vmId, ctx);
      if (obs.state === "paused") return { observed: this.#observed(obs, record) };
      if (obs.state !== "running")
        throw this.#invalidState(vmId, "pause", obs, record, "only a running VM can be paused");
      return { observed: this.#observed(await this.#deps.hypervisor.pause(vmId), record) };
    });
  }

  resume(ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.resume", ctx, async (vmId) => {
      const { record, obs } = await this.#existing(vmId, ctx);
      if (obs.state === "running") return { observed: this.#observed(obs, record) };
      if (obs.state !== "paused")
        throw this.#invalidState(vmId, "resume", obs, record, "only a paused VM can be resumed");
      return { observed: this.#observed(await this.#deps.hypervisor.resume(vmId), record) };
    });
  }

  /**
   * Only while the VM is stopped: CPU and memory replace its definition, and the disk only grows,
   * with `qemu-img resize`. A running VM's root disk is a qcow2 overlay on its image, which
   * Cloud Hypervisor's `vm.resize-disk` refuses ("Resize not supported with backing file").
   */
  resize(params: ResizeParams, ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.resize", ctx, async (vmId) => {
      const { record, obs } = await this.#existing(vmId, ctx);
      if (!record) throw new VmOpError("vm_not_found", `VM ${vmId} has no record to resize`);
      const want = {
        vcpus: params.vcpus ?? record.vcpus,
        memoryMb: params.memoryMb ?? record.memoryMb,
        diskGb: params.diskGb ?? record.diskGb,
      };
      const live = obs.state === "running" || obs.state === "paused";
      const have = sizeOf(obs) ?? { vcpus: record.vcpus, memoryMb: record.memoryMb };
      const cpuMemChange = want.vcpus !== have.vcpus || want.memoryMb !== have.memoryMb;
      if (cpuMemChange && live) {
        throw this.#invalidState(
          vmId,
          "resize",
          obs,
          record,
          "stop the VM to change CPU or memory",
        );
      }
      const diskPath = this.#deps.disks.pathFor(vmId, ROOT_DISK, "qcow2");
      const diskBytes = (await exists(diskPath))
        ? (await this.#deps.disks.info(diskPath, "qcow2")).virtualSizeBytes
        : 0;
      const wantDiskBytes = want.diskGb * GiB;
      if (wantDiskBytes < Math.max(diskBytes, record.diskGb * GiB)) {
        throw new VmOpError(
          "disk_too_small",
          `VM ${vmId}: disks only grow (now ${Math.max(diskBytes, record.diskGb * GiB)} bytes, asked ${wantDiskBytes})`,
          { observed: this.#observed(obs, record) },
        );
      }
      if (wantDiskBytes > diskBytes && diskBytes > 0 && live) {
        throw this.#invalidState(vmId, "resize", obs, record, "stop the VM to grow its disk");
      }
      const updated: VmRecord = { ...record, ...want, updatedAt: this.#now() };
      await this.records.write(updated);
      let after = obs;
      if (cpuMemChange && obs.state !== "absent") {
        // Stopped: replace the definition, so the next boot (and any new VMM) has the new size.
        this.#abortPoint(ctx);
        await this.#deps.hypervisor.delete(vmId);
        after = await this.#deps.hypervisor.create(vmId, this.#spec(updated, undefined));
      }
      if (wantDiskBytes > diskBytes && diskBytes > 0) {
        this.#abortPoint(ctx);
        await this.#deps.disks.prepare(this.#diskRequest(updated));
      }
      if (!cpuMemChange && after === obs) after = await this.#deps.hypervisor.info(vmId);
      return {
        observed: this.#observed(after, updated),
        output: { vcpus: want.vcpus, memoryMb: want.memoryMb, diskGb: want.diskGb },
      };
    });
  }

  /** VMM gone, TAPs, disks, seed, console log and record removed, image pin released. */
  delete(ctx: VmOpContext): Promise<OpResult> {
    return this.#run("vm.delete", ctx, async (vmId) => {
      const record = await this.records.read(vmId);
      if (record && record.phase !== "deleting")
        await this.records.write({ ...record, phase: "deleting", updatedAt: this.#now() });
      const { hypervisor, network, disks, consoleLogs, images } = this.#deps;
      await hypervisor.delete(vmId);
      const taps = network ? await network.network.removeVmTaps(vmId) : [];
      await disks.removeVm(vmId);
      await consoleLogs(vmId).remove();
      await images.releaseHolder(vmId);
      await this.records.remove(vmId);
      this.#deps.log.info("vm.delete: done", { vmId, taps });
      return { observed: { state: "deleted", hostVmId: vmId }, output: { removedTaps: taps } };
    });
  }

  /**
   * Every VM on this host with its observed state: the hypervisor's run directories (re-adopting
   * VMMs left by an earlier agent process) plus VMs the agent has a record of but no VMM for.
   */
  async inventory(): Promise<InventoryEntry[]> {
    const observations = await this.#deps.hypervisor.list();
    const byId = new Map(observations.map((o) => [o.vmId, o]));
    const ids = new Set([...byId.keys(), ...(await this.records.list())]);
    const entries: InventoryEntry[] = [];
    for (const vmId of [...ids].sort()) {
      const record = await this.records.read(vmId);
      const obs = byId.get(vmId) ?? { vmId, state: "absent" as const };
      if (!record && obs.state === "absent") continue;
      let observed = this.#observed(obs, record);
      if (record?.phase === "deleting") observed = { ...observed, state: "deleting" };
      else if (record?.phase === "provisioning" && observed.state !== "running") {
        const busy = this.#locks.has(vmId);
        observed = {
          ...observed,
          state: record.lastError && !busy ? "error" : "provisioning",
        };
      }
      entries.push({
        ...observed,
        vmId,
        hostVmId: vmId,
        ...(record ? { name: record.name } : {}),
        managed: record !== undefined,
      });
    }
    return entries;
  }

  /** One VM's observed state, read now. */
  async observe(vmId: string): Promise<Observed> {
    checkVmId(vmId);
    const record = await this.records.read(vmId);
    return this.#observed(await this.#deps.hypervisor.info(vmId), record);
  }

  // ---------------------------------------------------------------- steps

  /**
   * `#ensureResources` while a new VM's VMM process starts: the two take about as long on a real
   * host (image copy and seed tools vs. process start), so overlapping them shortens every create.
   * If the resources fail, the empty VMM is removed again.
   */
  async #resourcesWhileLaunching(
    record: VmRecord,
    obs: VmObservation,
    ctx: VmOpContext,
  ): Promise<Resources> {
    const { hypervisor } = this.#deps;
    if (obs.state !== "absent") return this.#ensureResources(record, ctx);
    const launched = hypervisor.launch(record.vmId);
    // Handled now, awaited below: a VMM that fails to start while disks are prepared must not
    // become an unhandled rejection.
    const launchFailure = launched.then(
      () => undefined,
      (error: unknown) => error,
    );
    let resources: Resources;
    try {
      resources = await this.#ensureResources(record, ctx);
    } catch (error) {
      if ((await launchFailure) === undefined)
        await hypervisor.delete(record.vmId).catch(() => undefined);
      throw error;
    }
    await launched;
    return resources;
  }

  /** Everything the VM needs on the host, each step a no-op when already done. */
  async #ensureResources(record: VmRecord, ctx: VmOpContext): Promise<Resources> {
    const { vmId } = record;
    const { images, disks, network } = this.#deps;
    const step = this.#stepper(vmId, ctx);
    this.#abortPoint(ctx);
    // Said first: a download from the image's URL can take minutes.
    step("preparing image", { url: record.image.url });
    // A download can take long (or a slow server can stall it): a cancellation or the item's
    // timeout ends the op at once. The download itself goes on, for whoever else waits for it.
    const image = await untilAborted(
      images.acquire(
        {
          url: record.image.url,
          sha256: record.image.sha256,
          ...(record.image.sizeBytes !== undefined ? { sizeBytes: record.image.sizeBytes } : {}),
        },
        vmId,
      ),
      ctx,
    );
    step("image ready", { sha256: image.sha256 });
    this.#abortPoint(ctx);
    const disk = await disks.prepare(this.#diskRequest(record, image.path));
    step("disk ready", { path: disk.path, created: disk.created });
    this.#abortPoint(ctx);
    const seedPath = await this.#ensureSeed(record);
    step("seed ready", { path: seedPath });
    this.#abortPoint(ctx);
    let tap: TapDevice | undefined;
    if (network) {
      tap = await network.network.ensureTap({
        vmId,
        nicIndex: 0,
        bridge: network.bridge,
        ...(network.mtu !== undefined ? { mtu: network.mtu } : {}),
      });
      step("tap ready", { tap: tap.name, created: tap.created });
    }
    return { image, disk, seedPath, ...(tap ? { tap } : {}) };
  }

  #diskRequest(record: VmRecord, base?: string) {
    return {
      vmId: record.vmId,
      diskId: ROOT_DISK,
      source: {
        kind: "overlay" as const,
        base: base ?? this.#imagePath(record),
        baseFormat: record.image.format,
      },
      sizeBytes: record.diskGb * GiB,
    };
  }

  #imagePath(record: VmRecord): string {
    return this.#deps.images.pathOf(record.image.sha256);
  }

  /** The NoCloud seed; rebuilt only when its content (rendered files) changed. */
  async #ensureSeed(record: VmRecord): Promise<string> {
    const seed: SeedSpec = {
      instanceId: record.vmId,
      hostname: record.name,
      sshAuthorizedKeys: record.sshKeys,
      ...(record.userData !== "" ? { userData: record.userData } : {}),
      ...(this.#deps.network ? { nics: [{ mac: macAddress(record.vmId, 0) }] } : {}),
    };
    const digest = createHash("sha256")
      .update(JSON.stringify(renderSeedFiles(seed)))
      .digest("hex");
    const path = this.records.seedPath(record.vmId);
    const digestPath = this.records.seedDigestPath(record.vmId);
    const current = await readFile(digestPath, "utf8").catch(() => "");
    if (current.trim() === digest && (await exists(path))) return path;
    await buildSeedImage(seed, path, { exec: this.#deps.exec });
    const tmp = `${digestPath}.tmp`;
    await writeFile(tmp, digest);
    await rename(tmp, digestPath);
    return path;
  }

  /** Defines the VM if the hypervisor has no live definition, then boots it. */
  async #bootFrom(
    record: VmRecord,
    resources: Resources,
    obs: VmObservation,
    ctx: VmOpContext,
  ): Promise<VmObservation> {
    const { hypervisor, consoleLogs } = this.#deps;
    const vmId = record.vmId;
    const step = this.#stepper(vmId, ctx);
    this.#abortPoint(ctx);
    // A new VM object (and a new VMM) truncates the serial file: keep what is there.
    const consoleLog = consoleLogs(vmId);
    await mkdir(dirname(consoleLog.path), { recursive: true });
    await consoleLog.archiveForRestart();
    if (obs.state === "absent" || obs.state === "stopped") {
      step("defining", { state: obs.state });
      await hypervisor.create(vmId, this.#spec(record, resources));
    }
    this.#abortPoint(ctx);
    step(VM_BOOTING_STEP);
    return hypervisor.boot(vmId);
  }

  #spec(record: VmRecord, resources: Resources | undefined): VmSpec {
    const { vmId } = record;
    const network = this.#deps.network;
    const nics: NicSpec[] = [];
    if (network) {
      nics.push({
        id: NIC_ID,
        tap: resources?.tap?.name ?? tapName(vmId, 0),
        mac: macAddress(vmId, 0),
        ...(network.mtu !== undefined ? { mtu: network.mtu } : {}),
      });
    }
    return {
      vcpus: record.vcpus,
      maxVcpus: record.vcpus,
      memoryBytes: record.memoryMb * MiB,
      boot: this.#deps.boot,
      disks: [
        {
          id: ROOT_DISK,
          path: resources?.disk.path ?? this.#deps.disks.pathFor(vmId, ROOT_DISK, "qcow2"),
          format: "qcow2",
          backingFiles: true,
        },
        {
          id: SEED_DISK,
          path: resources?.seedPath ?? this.records.seedPath(vmId),
          format: "raw",
          readonly: true,
        },
      ],
      nics,
      serialLog: this.#deps.consoleLogs(vmId).path,
      platform: {
        uuid: uuidFor(vmId),
        serialNumber: vmId,
        oemStrings: [`strato-vm=${vmId}`, `strato-name=${record.name}`],
      },
    };
  }

  // ---------------------------------------------------------------- helpers

  /** A step of an op: logged here (`vm: <step>`) and reported to the item's log. */
  #stepper(vmId: string, ctx: VmOpContext) {
    return (message: string, data: Record<string, unknown> = {}) => {
      this.#deps.log.info(`vm: ${message}`, { vmId, ...data });
      ctx.progress?.(message, data);
    };
  }

  /** Runs an op under the VM's lock, with typed errors. */
  #run(op: string, ctx: VmOpContext, fn: (vmId: string) => Promise<OpResult>): Promise<OpResult> {
    let vmId: string;
    try {
      vmId = checkVmId(ctx.resourceId);
    } catch (error) {
      return Promise.reject(error);
    }
    const previous = this.#locks.get(vmId) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        this.#deps.log.info(`${op}: start`, { vmId });
        try {
          this.#abortPoint(ctx);
          const result = await fn(vmId);
          this.#deps.log.info(`${op}: done`, { vmId, state: result.observed.state });
          return result;
        } catch (error) {
          const failure = toVmOpError(error);
          if (!failure.observed) {
            const observed = await this.observe(vmId).catch(() => undefined);
            if (observed) failure.observed = observed;
          }
          this.#deps.log.warn(`${op}: failed`, {
            vmId,
            code: failure.code,
            retryable: failure.retryable,
            message: failure.message,
          });
          throw failure;
        }
      });
    const settled = next.catch(() => undefined);
    this.#locks.set(vmId, settled);
    void settled.then(() => {
      if (this.#locks.get(vmId) === settled) this.#locks.delete(vmId);
    });
    return next;
  }

  /** The record and the hypervisor's view; a VM with neither does not exist here. */
  async #existing(
    vmId: string,
    ctx: VmOpContext,
  ): Promise<{ record: VmRecord | undefined; obs: VmObservation }> {
    const record = await this.records.read(vmId);
    if (record?.phase === "deleting")
      throw new VmOpError("invalid_state", `VM ${vmId} is being deleted`, {
        observed: { state: "deleting", hostVmId: vmId },
      });
    const obs = await this.#settle(vmId, ctx);
    if (!record && obs.state === "absent")
      throw new VmOpError("vm_not_found", `no VM ${vmId} on this host`, {
        observed: { state: "deleted", hostVmId: vmId },
      });
    return { record, obs };
  }

  /**
   * `info`, waiting out `unknown` (a VMM whose API thread is blocked, e.g. by a boot an earlier
   * agent process started): acting then could start a second VMM on the same disks.
   */
  async #settle(vmId: string, ctx: VmOpContext): Promise<VmObservation> {
    const { hypervisor, clock } = this.#deps;
    const deadline = clock.now() + (this.#deps.busyTimeoutMs ?? 120_000);
    for (;;) {
      const obs = await hypervisor.info(vmId);
      if (obs.state !== "unknown") return obs;
      if (clock.now() >= deadline)
        throw new VmOpError("hypervisor_busy", `the VMM of ${vmId} does not answer`, {
          retryable: true,
          observed: this.#observed(obs, undefined),
        });
      this.#abortPoint(ctx);
      await clock.sleep(250);
    }
  }

  #observed(obs: VmObservation, record: VmRecord | undefined): Observed {
    const size = sizeOf(obs);
    const state: Observed["state"] =
      obs.state === "running" || obs.state === "paused" || obs.state === "unknown"
        ? obs.state
        : obs.state === "absent" && !record
          ? "deleted"
          : "stopped";
    return {
      state,
      hostVmId: obs.vmId,
      ...(obs.pid !== undefined && state !== "stopped" ? { pid: obs.pid } : {}),
      ...(obs.reason ? { reason: obs.reason } : {}),
      ...(size ? size : record ? { vcpus: record.vcpus, memoryMb: record.memoryMb } : {}),
      ...(record ? { diskGb: record.diskGb } : {}),
    };
  }

  #invalidState(
    vmId: string,
    op: string,
    obs: VmObservation,
    record: VmRecord | undefined,
    why: string,
  ): VmOpError {
    const observed = this.#observed(obs, record);
    return new VmOpError(
      "invalid_state",
      `cannot ${op} VM ${vmId}: it is ${observed.state}; ${why}`,
      {
        observed,
      },
    );
  }

  async #noteError(vmId: string, op: string, failure: VmOpError): Promise<void> {
    const record = await this.records.read(vmId);
    if (!record) return;
    await this.records
      .write({
        ...record,
        lastError: { op, code: failure.code, message: failure.message, at: this.#now() },
        updatedAt: this.#now(),
      })
      .catch(() => undefined);
  }

  #abortPoint(ctx: VmOpContext): void {
    if (ctx.signal?.aborted)
      throw new VmOpError("cancelled", "the op was cancelled", { retryable: true });
  }

  #now(): number {
    return this.#deps.clock.now();
  }
}

/** vCPUs and memory from the hypervisor's config, when it has one. */
function sizeOf(obs: VmObservation): { vcpus: number; memoryMb: number } | undefined {
  const config = obs.config;
  if (!config) return undefined;
  const cpus = config.cpus as { boot_vcpus?: unknown } | undefined;
  const memory = config.memory as { size?: unknown } | undefined;
  if (typeof cpus?.boot_vcpus !== "number" || typeof memory?.size !== "number") return undefined;
  return { vcpus: cpus.boot_vcpus, memoryMb: Math.round(memory.size / MiB) };
}

/** A stable UUID (v4 layout) from the VM id, for SMBIOS. */
function uuidFor(vmId: string): string {
  const h = createHash("sha256").update(`uuid\0${vmId}`).digest("hex");
  const variant = ((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `work`, or the op's cancellation if that comes first (`work` itself is not stopped). */
function untilAborted<T>(work: Promise<T>, ctx: VmOpContext): Promise<T> {
  const { signal } = ctx;
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = () =>
      reject(new VmOpError("cancelled", "the op was cancelled", { retryable: true }));
    if (signal.aborted) {
      stop();
      return;
    }
    signal.addEventListener("abort", stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}
