import { readQcowFacts } from "./disk-image";
import { apiError, type Machine, NO_CONTENT, type Outcome } from "./machine";
import {
  assignIds,
  DEVICE_LISTS,
  type DeviceList,
  isRecord,
  type Json,
  records,
  validateConfig,
  withItemDefaults,
} from "./vm-config";

/** How long a simulated guest takes to acknowledge a vCPU removal. */
const CPU_REMOVAL_MS = 200;

/** The add-* routes: which config list they extend and the error text CH uses. */
export const ADD_ROUTES: Record<string, { list: DeviceList | "vsock"; what: string }> = {
  "vm.add-disk": { list: "disks", what: "The disk could not be added to the VM" },
  "vm.add-net": { list: "net", what: "The network device could not be added to the VM" },
  "vm.add-fs": { list: "fs", what: "The fs could not be added to the VM" },
  "vm.add-pmem": { list: "pmem", what: "The pmem device could not be added to the VM" },
  "vm.add-vsock": { list: "vsock", what: "The vsock device could not be added to the VM" },
  "vm.add-vdpa": { list: "vdpa", what: "The vdpa device could not be added to the VM" },
  "vm.add-device": { list: "devices", what: "The device could not be added to the VM" },
  "vm.add-user-device": {
    list: "user_devices",
    what: "The user device could not be added to the VM",
  },
  "vm.add-generic-vhost-user": {
    list: "generic_vhost_user",
    what: "The generic vhost-user device could not be added to the VM",
  },
};

/** Hot-add in R/P answers 200 {id, bdf}; cold-add in C only edits the config and answers 204. */
export function addDevice(m: Machine, endpoint: string, body: Json): Outcome {
  const route = ADD_ROUTES[endpoint];
  if (!route) return apiError(404, "Not Found");
  const { list, what } = route;
  const config = m.config;
  if (!config) return apiError(404, what, "VM is not created");
  const item = list === "vsock" ? { ...body } : withItemDefaults(list, body);
  if (list === "vsock" && isRecord(config.vsock))
    return apiError(500, what, "Error hotplugging device", "Only one vsock device is supported");
  // Validate the merged config, like vm_add_* does, before touching the real one.
  const merged: Json = structuredClone(config);
  if (list === "vsock") merged.vsock = item;
  else merged[list] = [...records(merged[list]), item];
  const invalid = validateConfig(merged);
  if (invalid)
    return apiError(invalid.status, what, "Error validating configuration", invalid.message);
  const vm = m.vm;
  if (!vm) {
    Object.assign(config, merged);
    return NO_CONTENT;
  }
  assignIds(merged, m.ctx.seed);
  const added = list === "vsock" ? merged.vsock : records(merged[list]).at(-1);
  if (!isRecord(added)) return apiError(500, what, "Error hotplugging device");
  const id = String(added.id);
  const requested = typeof added.pci_device_id === "number" ? added.pci_device_id : undefined;
  const allocated = vm.pci.allocate(id, requested);
  if (!allocated.ok) return apiError(500, what, "Error hotplugging device", allocated.message);
  Object.assign(config, merged);
  if ((list === "disks" || list === "net") && added.vhost_user !== true)
    vm.counters.add(id, list === "disks" ? "block" : "net");
  if (vm.state === "Running" && (list === "disks" || list === "net"))
    m.ctx.emit("virtio-device", "activated", { id });
  return { response: { status: 200, body: JSON.stringify({ id, bdf: allocated.bdf }) } };
}

export function removeDevice(m: Machine, body: Json): Outcome {
  const what = "The device could not be removed from the VM";
  const config = m.config;
  if (!config) return apiError(404, what, "VM is not created");
  const id = body.id;
  let found = false;
  for (const list of DEVICE_LISTS) {
    const items = records(config[list]);
    const kept = items.filter((d) => d.id !== id);
    if (kept.length !== items.length) {
      found = true;
      config[list] = kept;
    }
  }
  if (isRecord(config.vsock) && config.vsock.id === id) {
    found = true;
    delete config.vsock;
  }
  if (!found || typeof id !== "string") return apiError(404, what, "No device with the given id");
  const vm = m.vm;
  if (vm) {
    const bdf = vm.pci.free(id);
    vm.counters.remove(id);
    if (bdf) m.ctx.emit("vm", "device-removed", { id, bdf });
  }
  return NO_CONTENT;
}

export function resize(m: Machine, body: Json): Outcome {
  const what = "The VM could not be resized";
  const config = m.config;
  if (!config) return apiError(404, what, "VM is not created");
  const cpus = isRecord(config.cpus) ? config.cpus : {};
  const memory = isRecord(config.memory) ? config.memory : {};
  const vcpus = body.desired_vcpus;
  const ram = body.desired_ram;
  const balloon = body.desired_balloon;
  const max = typeof cpus.max_vcpus === "number" ? cpus.max_vcpus : 1;
  if (typeof vcpus === "number" && vcpus > max)
    return apiError(500, what, "Error resizing VM", "CpuManager(DesiredVCpuCountExceedsMax)");
  if (typeof balloon === "number" && !isRecord(config.balloon))
    return apiError(500, what, "Error resizing VM", "Balloon is not configured");
  const size = typeof memory.size === "number" ? memory.size : 0;
  const hotplug = typeof memory.hotplug_size === "number" ? memory.hotplug_size : 0;
  const vm = m.vm;
  if (vm?.pendingCpuRemoval && typeof vcpus === "number")
    return apiError(429, what, "Error resizing VM", "vCPU removal is still pending");
  if (vm && typeof ram === "number" && (ram < size || ram > size + hotplug))
    return apiError(500, what, "Error resizing VM", "MemoryManager(InvalidResizeAmount)");
  if (vm) m.ctx.emit("vm", "resizing");
  const current = typeof cpus.boot_vcpus === "number" ? cpus.boot_vcpus : 1;
  if (vm && vm.state === "Running" && typeof vcpus === "number" && vcpus < current) {
    // The guest must offline the removed vCPUs first (ACPI eject); that takes a moment.
    vm.pendingCpuRemoval = true;
    m.guestTimer(vm, CPU_REMOVAL_MS, () => {
      vm.pendingCpuRemoval = false;
    });
  }
  if (typeof vcpus === "number") cpus.boot_vcpus = vcpus;
  if (typeof ram === "number") {
    // Running: the hotplugged part grows; created: the configured size is edited.
    if (vm) memory.hotplugged_size = ram - size;
    else memory.size = ram;
  }
  if (typeof balloon === "number" && isRecord(config.balloon)) config.balloon.size = balloon;
  if (vm) m.ctx.emit("vm", "resized");
  return NO_CONTENT;
}

export function resizeDisk(m: Machine, body: Json): Outcome {
  const what = "The disk could not be resized";
  const config = m.config;
  if (!config) return apiError(404, what, "VM is not created");
  if (!m.vm) return apiError(500, what, "VM is not running");
  const disk = records(config.disks).find((d) => d.id === body.id);
  if (!disk) return apiError(404, what, "No device with the given id");
  if (typeof body.desired_size !== "number" || body.desired_size <= 0)
    return apiError(500, what, "Error resizing disk", "Invalid size");
  // As upstream's qcow2 backend (block/src/qcow/mod.rs, `resize`): no shrinking, and no resize
  // of an overlay with a backing file.
  const qcow = typeof disk.path === "string" ? readQcowFacts(disk.path) : undefined;
  if (qcow && BigInt(body.desired_size) < qcow.virtualSizeBytes)
    return apiError(500, what, "Error resizing disk", "Shrinking QCOW images is not supported");
  if (qcow?.hasBacking && BigInt(body.desired_size) !== qcow.virtualSizeBytes)
    return apiError(500, what, "Error resizing disk", "Resize not supported with backing file");
  return NO_CONTENT;
}

export function resizeZone(m: Machine, body: Json): Outcome {
  const what = "The memory zone could not be resized";
  const config = m.config;
  if (!config) return apiError(404, what, "VM is not created");
  const memory = isRecord(config.memory) ? config.memory : {};
  const zone = records(memory.zones).find((z) => z.id === body.id);
  if (!zone)
    return apiError(500, what, "Error resizing VM", `Unknown memory zone ${String(body.id)}`);
  if (typeof body.desired_ram === "number") {
    if (m.vm)
      zone.hotplugged_size = body.desired_ram - (typeof zone.size === "number" ? zone.size : 0);
    else zone.size = body.desired_ram;
  }
  return NO_CONTENT;
}
