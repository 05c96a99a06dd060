/** Base of every error the Cloud Hypervisor driver throws. */
export class CloudHypervisorError extends Error {
  override name = "CloudHypervisorError";
}

/**
 * A non-2xx answer. `messages` is CH's error chain (top error down to the root cause), or the
 * micro_http `{error}` text, or empty for the bodiless 400s. Do not branch on `status` for
 * control flow beyond 2xx/non-2xx: v53.0 answers 500 for most errors (notes §a).
 */
export class CloudHypervisorApiError extends CloudHypervisorError {
  override name = "CloudHypervisorApiError";
  readonly endpoint: string;
  readonly status: number;
  readonly messages: string[];

  constructor(endpoint: string, status: number, messages: string[]) {
    super(`${endpoint}: ${status}${messages.length ? ` ${messages.join(": ")}` : ""}`);
    this.endpoint = endpoint;
    this.status = status;
    this.messages = messages;
  }

  /** The innermost cause, e.g. "VM is not running". */
  get rootCause(): string | undefined {
    return this.messages.at(-1);
  }
}

/** The VMM's socket is missing or refuses connections: the process is gone. */
export class VmmUnavailableError extends CloudHypervisorError {
  override name = "VmmUnavailableError";
}

/** The VMM did not answer in time (its single API thread may be blocked). */
export class VmmTimeoutError extends CloudHypervisorError {
  override name = "VmmTimeoutError";
}

/** The VM has no run directory (never created, or deleted). */
export class VmNotFoundError extends CloudHypervisorError {
  override name = "VmNotFoundError";
}

/** The VMM process could not be started or never became ready. */
export class VmmStartError extends CloudHypervisorError {
  override name = "VmmStartError";
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

/** Decodes an error body: a JSON string array, a micro_http `{error}` object, or nothing. */
export function decodeErrorBody(text: string): string[] {
  if (text.trim() === "") return [];
  try {
    const value: unknown = JSON.parse(text);
    if (isStringArray(value)) return value;
    if (typeof value === "object" && value !== null && "error" in value) {
      const error = (value as { error: unknown }).error;
      if (typeof error === "string") return [error];
    }
  } catch {
    // Not JSON: keep the text.
  }
  return [text];
}
