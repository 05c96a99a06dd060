import { z } from "zod";

/** A DNS label (RFC 1123): the VM's name doubles as its hostname. */
export const VmName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "lower-case letters, digits and '-', not at the ends");

/** An OpenSSH public key line: type, base64 body, optional comment. */
export const SshKey = z
  .string()
  .trim()
  .max(16_384)
  .regex(
    /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+=*( .*)?$/,
    "not an OpenSSH public key",
  );

export const Labels = z
  .record(
    z
      .string()
      .regex(/^[a-z0-9]([a-z0-9._/-]{0,62})$/, "label keys are lower-case, up to 63 characters"),
    z.string().max(255),
  )
  .refine((l) => Object.keys(l).length <= 32, "at most 32 labels");

export const VmSize = {
  vcpus: z.number().int().min(1).max(64),
  memoryMb: z
    .number()
    .int()
    .min(256)
    .max(262_144)
    .refine((m) => m % 128 === 0, "a multiple of 128 MiB"),
  diskGb: z.number().int().min(1).max(4096),
};

export const CreateVmInput = z.object({
  name: VmName,
  description: z.string().max(500).default(""),
  imageId: z.string().min(1).max(64),
  ...VmSize,
  sshKeys: z.array(SshKey).max(20).default([]),
  /** cloud-init user-data (#cloud-config or a script). */
  userData: z.string().max(65_536).default(""),
  labels: Labels.default({}),
});
export type CreateVmInput = z.infer<typeof CreateVmInput>;

/** CPU and memory change only while the VM is stopped; the disk can only grow. */
export const ResizeVmInput = z
  .object({
    vcpus: VmSize.vcpus.optional(),
    memoryMb: VmSize.memoryMb.optional(),
    diskGb: VmSize.diskGb.optional(),
  })
  .refine(
    (r) => r.vcpus !== undefined || r.memoryMb !== undefined || r.diskGb !== undefined,
    "nothing to change",
  );
export type ResizeVmInput = z.infer<typeof ResizeVmInput>;

/** Size presets offered by the console (custom sizes are allowed too). */
export const SIZE_PRESETS = [
  { id: "small", label: "Small · 1 vCPU · 1 GiB · 10 GB", vcpus: 1, memoryMb: 1024, diskGb: 10 },
  { id: "medium", label: "Medium · 2 vCPUs · 4 GiB · 40 GB", vcpus: 2, memoryMb: 4096, diskGb: 40 },
  { id: "large", label: "Large · 4 vCPUs · 8 GiB · 80 GB", vcpus: 4, memoryMb: 8192, diskGb: 80 },
] as const;
