import type { DiskSpec, NicSpec, VmSpec } from "../hypervisor";

/** The CH `DiskConfig` for a disk: `image_type` always explicit (notes §c). */
export function diskConfig(disk: DiskSpec): Record<string, unknown> {
  return {
    id: disk.id,
    path: disk.path,
    image_type: disk.format === "qcow2" ? "Qcow2" : "Raw",
    readonly: disk.readonly ?? false,
    ...(disk.backingFiles !== undefined ? { backing_files: disk.backingFiles } : {}),
    ...(disk.serial !== undefined ? { serial: disk.serial } : {}),
  };
}

/** The CH `NetConfig` for a NIC: a named TAP the agent created, a fixed MAC, no host IP. */
export function netConfig(nic: NicSpec): Record<string, unknown> {
  return {
    id: nic.id,
    tap: nic.tap,
    mac: nic.mac,
    ...(nic.mtu !== undefined ? { mtu: nic.mtu } : {}),
  };
}

/**
 * The `VmConfig` for `vm.create`. Serial goes to a file and the console is off: the API default
 * console is `Tty`, CH's own stdout (notes §c).
 */
export function vmConfig(spec: VmSpec, serialLog: string): Record<string, unknown> {
  const payload =
    spec.boot.kind === "kernel"
      ? {
          kernel: spec.boot.kernel,
          ...(spec.boot.cmdline !== undefined ? { cmdline: spec.boot.cmdline } : {}),
          ...(spec.boot.initramfs !== undefined ? { initramfs: spec.boot.initramfs } : {}),
        }
      : { firmware: spec.boot.firmware };
  const platform = spec.platform;
  return {
    cpus: { boot_vcpus: spec.vcpus, max_vcpus: spec.maxVcpus ?? spec.vcpus },
    memory: {
      size: spec.memoryBytes,
      ...(spec.memoryHotplugBytes ? { hotplug_size: spec.memoryHotplugBytes } : {}),
    },
    payload,
    disks: spec.disks.map(diskConfig),
    net: spec.nics.map(netConfig),
    serial: { mode: "File", file: serialLog },
    console: { mode: "Off" },
    rng: { src: "/dev/urandom" },
    pvpanic: spec.pvpanic ?? true,
    ...(platform
      ? {
          platform: {
            ...(platform.uuid !== undefined ? { system_uuid: platform.uuid } : {}),
            ...(platform.serialNumber !== undefined
              ? { system_serial_number: platform.serialNumber }
              : {}),
            ...(platform.oemStrings !== undefined ? { oem_strings: platform.oemStrings } : {}),
          },
        }
      : {}),
  };
}
