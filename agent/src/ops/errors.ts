import { SeedError } from "../host/cloud-init";
import { DiskConflictError, DiskError, DiskNoSpaceError, DiskShrinkError } from "../host/disks";
import { CommandError, CommandNotFoundError, CommandTimeoutError } from "../host/exec";
import {
  ImageChecksumError,
  ImageDownloadError,
  ImageError,
  ImageNoSpaceError,
  ImageTooLargeError,
} from "../host/images";
import { BridgeMissingError, NetworkError, TapConflictError } from "../host/network";
import {
  CloudHypervisorApiError,
  CloudHypervisorError,
  VmNotFoundError,
} from "../hypervisor/cloud-hypervisor/errors";
import type { Observed } from "./types";

/**
 * The stable error codes a VM op fails with. The control plane stores them on the operation;
 * `retryable` says whether delivering the same item again may succeed without anyone acting.
 */
export const VM_OP_ERROR_CODES = [
  "invalid_params",
  "invalid_state",
  "vm_not_found",
  "image_checksum_mismatch",
  "image_download_failed",
  "image_too_large",
  "image_invalid",
  "disk_full",
  "disk_conflict",
  "disk_too_small",
  "disk_error",
  "invalid_user_data",
  "tap_conflict",
  "bridge_missing",
  "network_error",
  "host_tool_missing",
  "host_command_failed",
  "hypervisor_error",
  "hypervisor_busy",
  "cancelled",
  "internal_error",
] as const;
export type VmOpErrorCode = (typeof VM_OP_ERROR_CODES)[number];

export class VmOpError extends Error {
  override name = "VmOpError";
  readonly code: VmOpErrorCode;
  readonly retryable: boolean;
  /** What the host saw when the op gave up, when known. */
  observed?: Observed;
  /** Field problems for `invalid_params`. */
  readonly issues?: { path: string; message: string }[];

  constructor(
    code: VmOpErrorCode,
    message: string,
    options: {
      retryable?: boolean;
      cause?: unknown;
      observed?: Observed;
      issues?: { path: string; message: string }[];
    } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.observed) this.observed = options.observed;
    if (options.issues) this.issues = options.issues;
  }

  /** The `error` part of a result body. */
  toJSON(): { code: VmOpErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

function isNoSpace(error: unknown): boolean {
  if ((error as { code?: unknown } | null)?.code === "ENOSPC") return true;
  return error instanceof CommandError && /no space left on device/i.test(error.stderr);
}

/** Turns whatever a step threw into a typed op error (the original stays as `cause`). */
export function toVmOpError(error: unknown): VmOpError {
  if (error instanceof VmOpError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const fail = (code: VmOpErrorCode, retryable: boolean) =>
    new VmOpError(code, message, { retryable, cause: error });

  if (error instanceof ImageChecksumError) return fail("image_checksum_mismatch", false);
  if (error instanceof ImageNoSpaceError) return fail("disk_full", false);
  if (error instanceof ImageTooLargeError) return fail("image_too_large", false);
  if (error instanceof ImageDownloadError) {
    const s = error.status;
    return fail("image_download_failed", s === undefined || s >= 500 || s === 408 || s === 429);
  }
  if (error instanceof ImageError) return fail("image_invalid", false);
  if (error instanceof DiskNoSpaceError) return fail("disk_full", false);
  if (error instanceof DiskConflictError) return fail("disk_conflict", false);
  if (error instanceof DiskShrinkError) return fail("disk_too_small", false);
  if (error instanceof DiskError) return fail("disk_error", false);
  if (error instanceof SeedError) return fail("invalid_user_data", false);
  if (error instanceof TapConflictError) return fail("tap_conflict", false);
  if (error instanceof BridgeMissingError) return fail("bridge_missing", false);
  if (error instanceof NetworkError) return fail("network_error", true);
  if (isNoSpace(error)) return fail("disk_full", false);
  if (error instanceof CommandNotFoundError) return fail("host_tool_missing", false);
  if (error instanceof CommandTimeoutError) return fail("host_command_failed", true);
  if (error instanceof CommandError) return fail("host_command_failed", false);
  if (error instanceof VmNotFoundError) return fail("vm_not_found", false);
  // CH refused the call (bad config, invalid transition): the same call fails again.
  if (error instanceof CloudHypervisorApiError) return fail("hypervisor_error", false);
  // The VMM did not start, answer or exist: a later attempt may work.
  if (error instanceof CloudHypervisorError) return fail("hypervisor_error", true);
  return fail("internal_error", false);
}
