import { z } from "zod";
import { VmOpError } from "./errors";

/**
 * The params the control plane sends with each VM op (src/domain/vms/dispatch.ts). Unknown keys
 * are ignored: every item also carries the VM's whole size, so a retry can converge.
 */

/** The VM's name is its hostname: a DNS label. */
const Hostname = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "a DNS label (lower-case letters, digits, '-')");

const Vcpus = z.number().int().min(1).max(256);
const MemoryMb = z
  .number()
  .int()
  .min(64)
  .max(4 * 1024 * 1024);
const DiskGb = z
  .number()
  .int()
  .min(1)
  .max(64 * 1024);

export const ImageParams = z.object({
  id: z.string().min(1).max(128),
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//i.test(u), "an http(s) URL"),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "a sha256 hex digest"),
  format: z.enum(["qcow2", "raw"]),
  sizeBytes: z.number().int().positive().optional(),
});

export const CreateParams = z.object({
  name: Hostname,
  vcpus: Vcpus,
  memoryMb: MemoryMb,
  diskGb: DiskGb,
  image: ImageParams,
  sshKeys: z.array(z.string().min(1).max(16_384)).max(100).default([]),
  /** cloud-init user-data; empty means none. */
  userData: z
    .string()
    .max(1024 * 1024)
    .default(""),
});

export const StopParams = z.object({
  graceful: z.boolean().default(true),
  timeoutS: z.number().int().min(0).max(3600).default(60),
});

export const ResizeParams = z
  .object({ vcpus: Vcpus.optional(), memoryMb: MemoryMb.optional(), diskGb: DiskGb.optional() })
  .refine(
    (r) => r.vcpus !== undefined || r.memoryMb !== undefined || r.diskGb !== undefined,
    "nothing to change",
  );

/** Ops without params of their own (whatever else the item carries is ignored). */
export const NoParams = z.object({});

export type CreateParams = z.infer<typeof CreateParams>;
export type StopParams = z.infer<typeof StopParams>;
export type ResizeParams = z.infer<typeof ResizeParams>;

export const VM_OP_PARAMS = {
  "vm.create": CreateParams,
  "vm.start": NoParams,
  "vm.stop": StopParams,
  "vm.restart": NoParams,
  "vm.pause": NoParams,
  "vm.resume": NoParams,
  "vm.resize": ResizeParams,
  "vm.delete": NoParams,
} as const;

export type VmOpName = keyof typeof VM_OP_PARAMS;
export const VM_OP_NAMES = Object.keys(VM_OP_PARAMS) as VmOpName[];

/** Same rule as the hypervisor's run directories: the VM id becomes file and socket names. */
const VM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkVmId(vmId: string): string {
  if (!VM_ID.test(vmId) || vmId.includes("..")) {
    throw new VmOpError("invalid_params", `resource id ${JSON.stringify(vmId)} is not a VM id`, {
      issues: [{ path: "resource.id", message: "letters, digits, '.', '_', '-'; up to 64" }],
    });
  }
  return vmId;
}

/** Parses params with the op's schema; a failure is `invalid_params` with the field issues. */
export function parseParams<S extends z.ZodType>(
  op: string,
  schema: S,
  params: unknown,
): z.infer<S> {
  const parsed = schema.safeParse(params ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({
    path: i.path.map(String).join(".") || "(params)",
    message: i.message,
  }));
  throw new VmOpError(
    "invalid_params",
    `${op}: invalid params: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    { issues },
  );
}

/** For the runtime's validation step (before anything is journaled). */
export function validateVmOpParams(op: string, params: unknown): boolean {
  const schema = (VM_OP_PARAMS as Record<string, z.ZodType | undefined>)[op];
  return schema?.safeParse(params ?? {}).success ?? false;
}
