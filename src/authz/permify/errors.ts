import { AuthzError, type AuthzErrorCode } from "../authorizer";

/** Which kind of call failed: the same Permify error means different things for each. */
export type PermifyOp = "read" | "write" | "schema";

/** gRPC status codes we branch on (REST error bodies carry the same numbers in `code`). */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Permify reports its error code name (`ERROR_CODE_…`) as the status message. */
const BY_NAME: Readonly<Record<string, AuthzErrorCode>> = {
  ERROR_CODE_MISSING_BEARER_TOKEN: "unauthenticated",
  ERROR_CODE_UNAUTHENTICATED: "unauthenticated",
  ERROR_CODE_INVALID_BEARER_TOKEN: "unauthenticated",
  ERROR_CODE_SCHEMA_NOT_FOUND: "schema_missing",
  ERROR_CODE_SCHEMA_PARSE: "schema_invalid",
  ERROR_CODE_SCHEMA_COMPILE: "schema_invalid",
  ERROR_CODE_DEPTH_NOT_ENOUGH: "depth_exhausted",
  ERROR_CODE_ENTITY_TYPE_NOT_FOUND: "unknown_entity",
  ERROR_CODE_ENTITY_DEFINITION_NOT_FOUND: "unknown_entity",
  ERROR_CODE_SUBJECT_TYPE_NOT_FOUND: "unknown_entity",
  ERROR_CODE_PERMISSION_NOT_FOUND: "unknown_permission",
  ERROR_CODE_PERMISSION_DEFINITION_NOT_FOUND: "unknown_permission",
  ERROR_CODE_RELATION_DEFINITION_NOT_FOUND: "unknown_permission",
};

function byStatus(grpcCode: number): AuthzErrorCode {
  switch (grpcCode) {
    case GrpcCode.UNAUTHENTICATED:
    case GrpcCode.PERMISSION_DENIED:
      return "unauthenticated";
    case GrpcCode.DEADLINE_EXCEEDED:
      return "timeout";
    case GrpcCode.UNAVAILABLE:
    case GrpcCode.RESOURCE_EXHAUSTED:
    case GrpcCode.INTERNAL:
      return "unavailable";
    default:
      return "invalid_request";
  }
}

/** Maps a Permify failure to an `AuthzError`, scrubbing the API key from anything echoed back. */
export function permifyError(
  op: PermifyOp,
  grpcCode: number,
  message: string,
  secret: string | undefined,
): AuthzError {
  const name = message.trim();
  let code = BY_NAME[name] ?? byStatus(grpcCode);
  const clientSide = code !== "unauthenticated" && code !== "unavailable" && code !== "timeout";
  if (clientSide && code !== "schema_missing") {
    // A bad write is a bad relationship/attribute; any rejection of a schema is a bad schema.
    if (op === "write") code = "invalid_relationship";
    if (op === "schema") code = "schema_invalid";
  }
  const text = secret ? name.split(secret).join("[redacted]") : name;
  return new AuthzError(code, `Permify ${op} failed (status ${grpcCode}): ${text || "no message"}`);
}

/** The gRPC status a REST gateway response stands for, when its body does not say. */
export function grpcCodeForHttp(status: number): number {
  if (status === 400) return GrpcCode.INVALID_ARGUMENT;
  if (status === 401) return GrpcCode.UNAUTHENTICATED;
  if (status === 403) return GrpcCode.PERMISSION_DENIED;
  if (status === 404) return GrpcCode.NOT_FOUND;
  if (status === 429) return GrpcCode.RESOURCE_EXHAUSTED;
  if (status === 504) return GrpcCode.DEADLINE_EXCEEDED;
  if (status === 503) return GrpcCode.UNAVAILABLE;
  return status >= 500 ? GrpcCode.INTERNAL : GrpcCode.INVALID_ARGUMENT;
}
