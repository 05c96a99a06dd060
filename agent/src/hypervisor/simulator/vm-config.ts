import { createHash } from "node:crypto";

/** A VmConfig as stored by the simulator: plain JSON, mutated in place by add/remove/resize. */
export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function num(value: unknown, fallback: number): number {
  return typeof value === "number" ? value : fallback;
}

/** Device lists that hold PCI devices, in the order CH's DeviceManager creates them. */
export const DEVICE_LISTS = [
  "disks",
  "net",
  "fs",
  "pmem",
  "vdpa",
  "devices",
  "user_devices",
  "generic_vhost_user",
] as const;
export type DeviceList = (typeof DEVICE_LISTS)[number];

/** The prefix of generated ids per list (`next_device_name` in device_manager.rs). */
const ID_PREFIX: Record<DeviceList, string> = {
  disks: "_disk",
  net: "_net",
  fs: "_fs",
  pmem: "_pmem",
  vdpa: "_vdpa",
  devices: "_vfio",
  user_devices: "_user_device",
  generic_vhost_user: "_generic_vhost_user",
};

/** Serde defaults; `None` fields are left out so vm.info also matches the upstream schema. */
const SECTION_DEFAULTS: Record<string, Json> = {
  cpus: {
    boot_vcpus: 1,
    max_vcpus: 1,
    kvm_hyperv: false,
    max_phys_bits: 46,
    features: {},
    nested: true,
  },
  memory: {
    size: 536870912,
    mergeable: false,
    hotplug_method: "Acpi",
    shared: false,
    hugepages: false,
    prefault: false,
    thp: true,
  },
  rng: { src: "/dev/urandom", iommu: false },
  serial: { mode: "Null", iommu: false },
  // The API default console is Tty (CH's own stdout), notes §c.
  console: { mode: "Tty", iommu: false },
};

const ITEM_DEFAULTS: Partial<Record<DeviceList, Json>> = {
  disks: {
    readonly: false,
    direct: false,
    iommu: false,
    num_queues: 1,
    queue_size: 128,
    vhost_user: false,
    pci_segment: 0,
    backing_files: false,
    sparse: true,
    disable_io_uring: false,
    disable_aio: false,
    lock_granularity: "ByteRange",
  },
  net: {
    iommu: false,
    num_queues: 2,
    queue_size: 256,
    vhost_user: false,
    vhost_mode: "Client",
    pci_segment: 0,
    offload_tso: true,
    offload_ufo: true,
    offload_csum: true,
  },
};

/** Fills serde defaults, as `vm.info` shows them; `payload` and unknown keys pass through. */
export function withDefaults(config: Json): Json {
  const out: Json = { ...config };
  for (const [section, defaults] of Object.entries(SECTION_DEFAULTS)) {
    const given = config[section];
    out[section] = { ...defaults, ...(isRecord(given) ? given : {}) };
  }
  const cpus = out.cpus;
  if (isRecord(cpus)) cpus.profile = "Host";
  for (const list of DEVICE_LISTS) {
    if (config[list] === undefined || config[list] === null) continue;
    out[list] = records(config[list]).map((item) => withItemDefaults(list, item));
  }
  for (const key of ["iommu", "watchdog", "pvpanic"]) out[key] = config[key] ?? false;
  return out;
}

export function withItemDefaults(list: DeviceList, item: Json): Json {
  return { ...(ITEM_DEFAULTS[list] ?? {}), ...item };
}

/** Every device id in the config (built-in ids included), for uniqueness checks. */
export function deviceIds(config: Json): string[] {
  const ids: string[] = [];
  for (const list of DEVICE_LISTS)
    for (const item of records(config[list])) if (typeof item.id === "string") ids.push(item.id);
  const vsock = config.vsock;
  if (isRecord(vsock) && typeof vsock.id === "string") ids.push(vsock.id);
  for (const zone of records(isRecord(config.memory) ? config.memory.zones : undefined))
    if (typeof zone.id === "string") ids.push(zone.id);
  return ids;
}

/** Writes generated ids (one counter shared by every type) and MACs back into the config. */
export function assignIds(config: Json, seed: string): void {
  const used = new Set(deviceIds(config));
  let counter = 0;
  for (const list of DEVICE_LISTS) {
    for (const item of records(config[list])) {
      if (typeof item.id !== "string") {
        let id = `${ID_PREFIX[list]}${counter++}`;
        while (used.has(id)) id = `${ID_PREFIX[list]}${counter++}`;
        item.id = id;
        used.add(id);
      }
      if (list === "net" && typeof item.mac !== "string")
        item.mac = deterministicMac(seed, item.id);
    }
  }
  const vsock = config.vsock;
  if (isRecord(vsock) && typeof vsock.id !== "string") vsock.id = `_vsock${counter++}`;
}

/** A locally administered unicast MAC, stable per simulator instance and device. */
function deterministicMac(seed: string, id: unknown): string {
  const h = createHash("sha256")
    .update(`${seed}/${String(id)}`)
    .digest();
  const bytes = [
    ((h[0] ?? 0) & 0xfe) | 0x02,
    h[1] ?? 0,
    h[2] ?? 0,
    h[3] ?? 0,
    h[4] ?? 0,
    h[5] ?? 0,
  ];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** `memory_actual_size`: RAM + zones + hotplugged − balloon (notes §e). */
export function memoryActualSize(config: Json): number {
  const memory = isRecord(config.memory) ? config.memory : {};
  let total = num(memory.size, 0) + num(memory.hotplugged_size, 0);
  for (const zone of records(memory.zones)) total += num(zone.size, 0);
  const balloon = config.balloon;
  if (isRecord(balloon)) total -= num(balloon.size, 0);
  return total;
}

export function bootVcpus(config: Json): number {
  return isRecord(config.cpus) ? num(config.cpus.boot_vcpus, 1) : 1;
}

export function isSharedMemory(config: Json): boolean {
  const memory = config.memory;
  return isRecord(memory) && (memory.shared === true || memory.hugepages === true);
}

/** A `ConfigValidation` failure: 409 for duplicates, 400 otherwise (`api_error_status_code`). */
export type ValidationFailure = { status: 400 | 409; message: string };

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** The parts of `VmConfig::validate` (vmm/src/config.rs) a control plane can trip over. */
export function validateConfig(config: Json): ValidationFailure | undefined {
  const bad = (message: string): ValidationFailure => ({ status: 400, message });
  const payload = isRecord(config.payload) ? config.payload : undefined;
  if (payload && typeof payload.firmware === "string" && typeof payload.kernel === "string")
    return bad("Payload configuration is not valid: firmware and kernel are both set");
  const cpus = isRecord(config.cpus) ? config.cpus : {};
  const boot = num(cpus.boot_vcpus, 1);
  const max = num(cpus.max_vcpus, 1);
  if (boot < 1) return bad("Number of boot vCPUs must be at least 1");
  if (max < boot) return bad("Max is less than boot");
  if (max > 8192) return bad("Too many vCPUs");
  const topology = cpus.topology;
  if (isRecord(topology)) {
    const parts = ["threads_per_core", "cores_per_die", "dies_per_package", "packages"].map((k) =>
      num(topology[k], 1),
    );
    const product = parts.reduce((a, b) => a * b, 1);
    if (parts.includes(0) || product !== max || (parts[0] ?? 1) > 2)
      return bad("Invalid topology configuration");
  }
  const memory = isRecord(config.memory) ? config.memory : {};
  if (memory.hugepage_size !== undefined && memory.hugepage_size !== null) {
    if (memory.hugepages !== true)
      return bad("Huge page size specified but huge pages not enabled");
    if (!isPowerOfTwo(num(memory.hugepage_size, 0))) return bad("Huge page size is not power of 2");
  }
  if (memory.shared === true && memory.mergeable === true)
    return bad("Memory cannot be both shared and mergeable");
  const shared = isSharedMemory(config);
  for (const disk of records(config.disks)) {
    if (disk.vhost_user === true && disk.path) return bad("Disk path and vhost-user are exclusive");
    if (disk.vhost_user === true && !shared) return bad("Using vhost-user requires shared memory");
    if (disk.vhost_user !== true && typeof disk.path !== "string")
      return bad("Disk path is missing");
    if (num(disk.num_queues, 1) > boot)
      return bad("Number of block queues is greater than number of vCPUs");
    if (!isPowerOfTwo(num(disk.queue_size, 128))) return bad("Queue size is not a power of 2");
  }
  for (const net of records(config.net)) {
    const queues = num(net.num_queues, 2);
    if (queues % 2 !== 0) return bad("Number of queues for network device must be even");
    if (queues / 2 > boot) return bad("Number of queue pairs is greater than number of vCPUs");
    if (typeof net.mtu === "number" && net.mtu < 1280) return bad("Net MTU is too small");
    if ((net.ip == null) !== (net.mask == null))
      return bad("IP address and mask must be set together");
    if ((net.offload_tso === true || net.offload_ufo === true) && net.offload_csum === false)
      return bad("'offload_tso' and 'offload_ufo' require 'offload_csum'");
    if (net.vhost_user === true && !shared) return bad("Using vhost-user requires shared memory");
  }
  for (const list of ["fs", "user_devices", "generic_vhost_user"] as const)
    if (records(config[list]).length > 0 && !shared)
      return bad("Using vhost-user requires shared memory");
  for (const key of ["serial", "console"] as const) {
    const c = config[key];
    if (isRecord(c) && c.mode === "File" && typeof c.file !== "string")
      return bad(`Path missing when using file ${key === "serial" ? "serial" : "console"} mode`);
  }
  const balloon = config.balloon;
  if (isRecord(balloon) && num(balloon.size, 0) >= num(memory.size, 536870912))
    return bad("Balloon size is greater than or equal to the RAM size");
  const ids = deviceIds(config);
  for (const id of ids) if (id.startsWith("__")) return bad(`Invalid identifier: ${id}`);
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) return { status: 409, message: `Identifier ${id} is not unique` };
    seen.add(id);
  }
  const paths = new Set<string>();
  for (const disk of records(config.disks)) {
    if (typeof disk.path !== "string") continue;
    if (paths.has(disk.path))
      return { status: 409, message: `Duplicated device path: ${disk.path}` };
    paths.add(disk.path);
  }
  return undefined;
}
