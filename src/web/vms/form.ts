import type { QuotaView } from "../../../templates/pages/vms/parts";
import { ServiceError } from "../../domain/errors";
import type { QuotaLimits, QuotaUsage } from "../../domain/vms/quotas";
import { CreateVmInput, SIZE_PRESETS } from "../../domain/vms/schemas";
import type { FieldError } from "../../http/problem";
import { formatMemory } from "./shared";

type Size = { vcpus: number; memoryMb: number; diskGb: number };

/** A whole number typed into a form field, or NaN (zod reports it under the field). */
function whole(value: string | undefined): number {
  const text = (value ?? "").trim();
  return /^-?\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
}

/** The size the form asks for: a preset's, or the custom fields. */
function requestedSize(values: Record<string, string>): Size {
  const preset = SIZE_PRESETS.find((p) => p.id === values.size);
  if (preset) return { vcpus: preset.vcpus, memoryMb: preset.memoryMb, diskGb: preset.diskGb };
  return {
    vcpus: whole(values.vcpus),
    memoryMb: whole(values.memoryMb),
    diskGb: whole(values.diskGb),
  };
}

/** The size for the placement preview, or null while the fields do not make a valid one. */
export function sizeFromForm(values: Record<string, string>): Size | null {
  const size = requestedSize(values);
  const parsed = CreateVmInput.pick({ vcpus: true, memoryMb: true, diskGb: true }).safeParse(size);
  return parsed.success ? parsed.data : null;
}

/**
 * The create form's fields as the domain's input. Invalid input is a 422 whose field errors name
 * the form's fields (an SSH key's error names its line), for `formFailure` to put under them.
 */
export function parseVmForm(values: Record<string, string>): CreateVmInput {
  const sshKeys = (values.sshKeys ?? "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const raw = {
    name: (values.name ?? "").trim(),
    description: (values.description ?? "").trim(),
    imageId: values.imageId ?? "",
    ...requestedSize(values),
    sshKeys,
    userData: (values.userData ?? "").replaceAll("\r\n", "\n"),
  };
  const parsed = CreateVmInput.safeParse(raw);
  if (parsed.success) return parsed.data;
  const preset = values.size !== "custom" && values.size !== undefined;
  const errors: FieldError[] = parsed.error.issues.map((issue) => {
    const [first, index] = issue.path;
    let field = String(first ?? "");
    // A preset's size cannot be wrong; with a preset the size fields are not the user's doing.
    if (preset && (field === "vcpus" || field === "memoryMb" || field === "diskGb")) field = "size";
    const message =
      field === "sshKeys" && typeof index === "number"
        ? `line ${index + 1}: ${issue.message}`
        : issue.code === "invalid_type" && Number.isNaN(raw[first as keyof Size])
          ? "a whole number"
          : issue.message;
    return { in: "form", field, code: issue.code, message };
  });
  throw new ServiceError("VALIDATION", "Some fields need another look.", errors);
}

export function quotaView(limits: QuotaLimits, usage: QuotaUsage): QuotaView {
  return {
    vms: { used: usage.vms, limit: limits.maxVms },
    vcpus: { used: usage.vcpus, limit: limits.maxVcpus },
    memory: {
      used: formatMemory(usage.memoryMb),
      limit: formatMemory(limits.maxMemoryMb),
      ratio:
        limits.maxMemoryMb === 0
          ? usage.memoryMb > 0
            ? 1
            : 0
          : usage.memoryMb / limits.maxMemoryMb,
    },
    disk: { used: usage.diskGb, limit: limits.maxDiskGb },
  };
}
