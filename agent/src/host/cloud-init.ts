import { createHash } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isMap, parseDocument, stringify } from "yaml";
import type { Exec } from "./exec";

/** One guest NIC in network-config v2, matched by the MAC the agent gave it. */
export type SeedNic = {
  mac: string;
  /** Guest interface name to set (default `eth<index>`). */
  name?: string;
  /** DHCPv4 (default true when no static addresses are given). */
  dhcp4?: boolean;
  /** Static addresses in CIDR form, e.g. `10.0.0.5/24`. */
  addresses?: string[];
  gateway4?: string;
  nameservers?: { addresses?: string[]; search?: string[] };
  mtu?: number;
};

export type SeedSpec = {
  /** cloud-init runs its per-instance modules again whenever this changes. */
  instanceId: string;
  hostname: string;
  sshAuthorizedKeys?: string[];
  /**
   * The user's own user-data, passed through. A `#cloud-config` document gets the SSH keys merged
   * in; anything else (a script, MIME) is kept byte for byte and the keys go via meta-data only.
   */
  userData?: string;
  /** NICs for network-config v2; omitted leaves networking to the image's defaults. */
  nics?: SeedNic[];
};

export type SeedFiles = {
  "meta-data": string;
  "user-data": string;
  "network-config"?: string;
};

export class SeedError extends Error {
  override name = "SeedError";
}

/** Renders the NoCloud files. Pure, so the executor can compare or log them. */
export function renderSeedFiles(spec: SeedSpec): SeedFiles {
  const keys = spec.sshAuthorizedKeys ?? [];
  // NoCloud reads `public-keys` from meta-data whatever the user-data is.
  const metaData = stringify({
    "instance-id": spec.instanceId,
    "local-hostname": spec.hostname,
    ...(keys.length > 0 ? { "public-keys": keys } : {}),
  });
  const files: SeedFiles = { "meta-data": metaData, "user-data": renderUserData(spec, keys) };
  if (spec.nics && spec.nics.length > 0) files["network-config"] = renderNetworkConfig(spec.nics);
  return files;
}

function renderUserData(spec: SeedSpec, keys: string[]): string {
  if (spec.userData === undefined) {
    const config = {
      hostname: spec.hostname,
      ...(keys.length > 0 ? { ssh_authorized_keys: keys } : {}),
    };
    return `#cloud-config\n${stringify(config)}`;
  }
  if (!/^#cloud-config[ \t]*\r?\n/.test(spec.userData) || keys.length === 0) return spec.userData;
  const doc = parseDocument(spec.userData);
  if (doc.errors.length > 0) {
    throw new SeedError(`user-data is not valid YAML: ${doc.errors[0]?.message ?? "parse error"}`);
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new SeedError("#cloud-config user-data must be a mapping");
  }
  const js = doc.toJS() as { ssh_authorized_keys?: unknown } | null;
  const current = js?.ssh_authorized_keys ?? [];
  if (!Array.isArray(current)) throw new SeedError("user-data ssh_authorized_keys must be a list");
  const merged = [...current.map(String), ...keys.filter((k) => !current.includes(k))];
  doc.setIn(["ssh_authorized_keys"], merged);
  // The yaml package keeps the leading `#cloud-config` comment; cloud-init needs it first.
  const text = doc.toString();
  return text.startsWith("#cloud-config") ? text : `#cloud-config\n${text}`;
}

function renderNetworkConfig(nics: SeedNic[]): string {
  const ethernets: Record<string, unknown> = {};
  nics.forEach((nic, index) => {
    const name = nic.name ?? `eth${index}`;
    const addresses = nic.addresses ?? [];
    ethernets[name] = {
      match: { macaddress: nic.mac.toLowerCase() },
      "set-name": name,
      dhcp4: nic.dhcp4 ?? addresses.length === 0,
      ...(addresses.length > 0 ? { addresses } : {}),
      ...(nic.gateway4 !== undefined ? { routes: [{ to: "default", via: nic.gateway4 }] } : {}),
      ...(nic.nameservers !== undefined ? { nameservers: nic.nameservers } : {}),
      ...(nic.mtu !== undefined ? { mtu: nic.mtu } : {}),
    };
  });
  return stringify({ version: 2, ethernets });
}

export type BuildSeedOptions = {
  exec: Exec;
  /** Size of the vfat image; grown automatically when the files need more. */
  minSizeKiB?: number;
};

/**
 * Writes a NoCloud seed: a vfat image labelled `CIDATA` holding the seed files, made with
 * `mkfs.vfat` and `mcopy`. Built beside `outPath` and renamed into place, so a running VM's seed
 * is replaced whole or not at all. Attach it to the VM as a read-only Raw disk.
 */
export async function buildSeedImage(
  spec: SeedSpec,
  outPath: string,
  options: BuildSeedOptions,
): Promise<SeedFiles> {
  const files = renderSeedFiles(spec);
  const staging = `${outPath}.staging`;
  const tmpImage = `${outPath}.tmp`;
  await mkdir(dirname(outPath), { recursive: true });
  await rm(staging, { recursive: true, force: true });
  await rm(tmpImage, { force: true });
  await mkdir(staging);
  try {
    let bytes = 0;
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(staging, name), content);
      bytes += Buffer.byteLength(content);
    }
    // 8 MiB as upstream's create-cloud-init.sh, more for large user-data (FAT overhead + slack).
    const sizeKiB = Math.max(options.minSizeKiB ?? 8192, Math.ceil((bytes * 1.25) / 1024) + 1024);
    // A volume id derived from the instance id keeps rebuilt seeds comparable.
    const volumeId = createHash("sha256").update(spec.instanceId).digest("hex").slice(0, 8);
    await options.exec("mkfs.vfat", [
      "-n",
      "CIDATA",
      "-i",
      volumeId,
      "-C",
      tmpImage,
      String(sizeKiB),
    ]);
    for (const name of Object.keys(files)) {
      await options.exec("mcopy", ["-o", "-i", tmpImage, join(staging, name), `::${name}`]);
    }
    await rename(tmpImage, outPath);
    return files;
  } catch (error) {
    await rm(tmpImage, { force: true });
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
