import { createHash } from "node:crypto";
import { CommandError, type Exec } from "./exec";
import { assertSafeName } from "./names";

/** Linux interface names hold at most 15 characters (IFNAMSIZ - 1). */
const IFNAME_MAX = 15;
const MAX_NICS = 100;
/** The interface alias marks a TAP as Strato's and names its VM and NIC. */
const ALIAS_PREFIX = "strato";

export type TapDevice = {
  name: string;
  /** The guest-side MAC to give Cloud Hypervisor for this NIC. */
  mac: string;
  bridge: string;
  /** False when the TAP already existed (and was ours). */
  created: boolean;
};

export class NetworkError extends Error {
  override name = "NetworkError";
}

/** An interface with the TAP's name exists and is not this VM's TAP; it is left untouched. */
export class TapConflictError extends NetworkError {
  override name = "TapConflictError";
  constructor(
    readonly tap: string,
    readonly found: string,
  ) {
    super(`interface ${tap} already exists and is not ours (${found})`);
  }
}

/** The bridge a TAP should join does not exist on this host. */
export class BridgeMissingError extends NetworkError {
  override name = "BridgeMissingError";
}

/** Deterministic TAP name for a VM's NIC: `st` + 10 hex of sha256(vmId) + `n` + index. */
export function tapName(vmId: string, nicIndex: number): string {
  checkIndex(nicIndex);
  const name = `st${digest(`tap\0${vmId}`).toString("hex").slice(0, 10)}n${nicIndex}`;
  if (name.length > IFNAME_MAX) throw new NetworkError(`tap name ${name} too long`);
  return name;
}

/**
 * Stable guest MAC for a VM's NIC: locally administered, unicast, derived from the VM id's hash,
 * with the NIC index as the last octet so one VM's NICs never collide.
 */
export function macAddress(vmId: string, nicIndex: number): string {
  checkIndex(nicIndex);
  const h = digest(`mac\0${vmId}`);
  const octets = [
    ((h[0] ?? 0) & 0xfc) | 0x02,
    h[1] ?? 0,
    h[2] ?? 0,
    h[3] ?? 0,
    h[4] ?? 0,
    nicIndex,
  ];
  return octets.map((o) => o.toString(16).padStart(2, "0")).join(":");
}

/** Name a TAP has between creation and marking (same length, other prefix). */
function temporaryTapName(vmId: string, nicIndex: number): string {
  return `sx${tapName(vmId, nicIndex).slice(2)}`;
}

function checkIndex(nicIndex: number): void {
  if (!Number.isInteger(nicIndex) || nicIndex < 0 || nicIndex >= MAX_NICS) {
    throw new NetworkError(`NIC index ${nicIndex} out of range 0..${MAX_NICS - 1}`);
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function aliasFor(vmId: string, nicIndex: number): string {
  assertSafeName("vm id", vmId);
  return `${ALIAS_PREFIX} vm=${vmId} nic=${nicIndex}`;
}

/** What `ip -j -d link show` says about one interface (only the fields used). */
type LinkInfo = {
  ifname: string;
  flags?: string[];
  master?: string;
  ifalias?: string;
  mtu?: number;
  linkinfo?: { info_kind?: string; info_data?: { type?: string; multi_queue?: boolean } };
};

export type EnsureTapRequest = {
  vmId: string;
  nicIndex: number;
  bridge: string;
  mtu?: number;
  /** Needed when the NIC has more than one queue pair (CH `num_queues` > 2). */
  multiQueue?: boolean;
};

export type Network = {
  /** Creates the NIC's TAP and attaches it to the bridge, up; a no-op when already so. */
  ensureTap(request: EnsureTapRequest): Promise<TapDevice>;
  /** Deletes the NIC's TAP; true if it was there. A foreign interface is never deleted. */
  removeTap(vmId: string, nicIndex: number): Promise<boolean>;
  /** Deletes every TAP marked as this VM's; returns their names. */
  removeVmTaps(vmId: string): Promise<string[]>;
};

export type NetworkOptions = {
  /** Runs `ip`; give it a prefix (`ip netns exec …`) to work inside a namespace. */
  exec: Exec;
  timeoutMs?: number;
};

export function createNetwork(options: NetworkOptions): Network {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ip = (args: string[]) => options.exec("ip", args, { timeoutMs });

  async function show(name: string): Promise<LinkInfo | undefined> {
    try {
      const { stdout } = await ip(["-j", "-d", "link", "show", "dev", name]);
      const parsed: unknown = JSON.parse(stdout);
      return Array.isArray(parsed) ? (parsed[0] as LinkInfo | undefined) : undefined;
    } catch (error) {
      if (
        error instanceof CommandError &&
        /does not exist|cannot find device/i.test(error.stderr)
      ) {
        return undefined;
      }
      throw error;
    }
  }

  async function listLinks(): Promise<LinkInfo[]> {
    const { stdout } = await ip(["-j", "-d", "link", "show"]);
    const parsed: unknown = JSON.parse(stdout);
    return Array.isArray(parsed) ? (parsed as LinkInfo[]) : [];
  }

  const isTap = (link: LinkInfo) =>
    link.linkinfo?.info_kind === "tun" && link.linkinfo.info_data?.type === "tap";

  const isOurs = (link: LinkInfo, alias: string) => isTap(link) && link.ifalias === alias;

  function describe(link: LinkInfo): string {
    const kind = link.linkinfo?.info_data?.type ?? link.linkinfo?.info_kind ?? "device";
    const parts = [`kind ${kind}`];
    parts.push(link.ifalias ? `alias "${link.ifalias}"` : "no alias");
    if (link.master) parts.push(`master ${link.master}`);
    return parts.join(", ");
  }

  /**
   * Creates the TAP under a temporary name, marks it with its alias, then renames it: the final
   * name only ever appears already marked, so anything else under it is not ours.
   */
  async function createMarked(name: string, request: EnsureTapRequest): Promise<void> {
    const tmp = temporaryTapName(request.vmId, request.nicIndex);
    // The temporary name space is ours alone: a leftover is an interrupted earlier attempt.
    if (await show(tmp)) await deleteLink(tmp);
    const args = ["tuntap", "add", "dev", tmp, "mode", "tap", "vnet_hdr"];
    if (request.multiQueue) args.push("multi_queue");
    await ip(args);
    try {
      await ip(["link", "set", "dev", tmp, "alias", aliasFor(request.vmId, request.nicIndex)]);
      await ip(["link", "set", "dev", tmp, "name", name]);
    } catch (error) {
      await deleteLink(tmp);
      // A concurrent creator may have won the rename; the caller re-inspects the final name.
      if (!(error instanceof CommandError && (await show(name)))) throw error;
    }
  }

  async function ensureTap(request: EnsureTapRequest): Promise<TapDevice> {
    const name = tapName(request.vmId, request.nicIndex);
    const mac = macAddress(request.vmId, request.nicIndex);
    const alias = aliasFor(request.vmId, request.nicIndex);
    if (!(await show(request.bridge))) {
      throw new BridgeMissingError(`bridge ${request.bridge} does not exist`);
    }

    let link = await show(name);
    let created = false;
    if (link === undefined) {
      await createMarked(name, request);
      created = true;
      link = await show(name);
      if (link === undefined) throw new NetworkError(`tap ${name} vanished after creation`);
    }
    if (!isOurs(link, alias)) throw new TapConflictError(name, describe(link));

    if (request.mtu !== undefined && link.mtu !== request.mtu) {
      await ip(["link", "set", "dev", name, "mtu", String(request.mtu)]);
    }
    const up = (link.flags ?? []).includes("UP");
    if (link.master !== request.bridge || !up) {
      await ip(["link", "set", "dev", name, "master", request.bridge, "up"]);
    }
    return { name, mac, bridge: request.bridge, created };
  }

  async function deleteLink(name: string): Promise<boolean> {
    try {
      await ip(["link", "del", "dev", name]);
      return true;
    } catch (error) {
      // Gone in the meantime: the goal is reached.
      if (
        error instanceof CommandError &&
        /cannot find device|does not exist/i.test(error.stderr)
      ) {
        return false;
      }
      throw error;
    }
  }

  return {
    ensureTap,
    async removeTap(vmId, nicIndex) {
      const name = tapName(vmId, nicIndex);
      const link = await show(name);
      if (link === undefined) return false;
      if (!isOurs(link, aliasFor(vmId, nicIndex))) {
        throw new TapConflictError(name, describe(link));
      }
      return deleteLink(name);
    },
    async removeVmTaps(vmId) {
      const prefix = `${ALIAS_PREFIX} vm=${vmId} nic=`;
      const ours = (await listLinks()).filter((l) => isTap(l) && l.ifalias?.startsWith(prefix));
      const removed: string[] = [];
      for (const link of ours) if (await deleteLink(link.ifname)) removed.push(link.ifname);
      return removed;
    },
  };
}
