/**
 * The authorization seam. The app talks to this interface only; the embedded engine
 * (`src/authz/embedded`) and any remote Permify adapter implement it with the same semantics.
 */

export type EntityRef = { type: string; id: string };

/** A subject is an entity, or a subject set (`group:1#member`) when `relation` is set. */
export type SubjectRef = { type: string; id: string; relation?: string };

export type Tuple = { entity: EntityRef; relation: string; subject: SubjectRef };

export type AttributeValue = boolean | number | string | boolean[] | number[] | string[];

export type Attribute = { entity: EntityRef; attribute: string; value: AttributeValue };

/** Per-request extras: contextual tuples/attributes and free-form `data` for rules. */
export type CheckContext = {
  tuples?: readonly Tuple[];
  attributes?: readonly Attribute[];
  data?: Readonly<Record<string, unknown>>;
};

export type CheckRequest = {
  entity: EntityRef;
  permission: string;
  subject: SubjectRef;
  /** Permify's recursion budget; missing or 0 means 100, below 3 is invalid. */
  depth?: number;
  context?: CheckContext;
};

export type LookupEntityRequest = {
  entityType: string;
  permission: string;
  subject: SubjectRef;
  depth?: number;
  context?: CheckContext;
};

export type LookupSubjectRequest = {
  entity: EntityRef;
  permission: string;
  subjectReference: { type: string; relation?: string };
  depth?: number;
  context?: CheckContext;
};

/** Every field narrows the match; `entityType` is required so a filter never wipes everything. */
export type RelationshipFilter = {
  entityType: string;
  entityIds?: readonly string[];
  relation?: string;
  subjectType?: string;
  subjectIds?: readonly string[];
  subjectRelation?: string;
};

export interface Authorizer {
  check(request: CheckRequest): Promise<{ allowed: boolean }>;
  /** Ids of `entityType` entities on which `subject` has `permission`. */
  lookupEntity(request: LookupEntityRequest): Promise<string[]>;
  /** Ids of subjects of `subjectReference` type that have `permission` on `entity`. */
  lookupSubject(request: LookupSubjectRequest): Promise<string[]>;
  writeRelationships(tuples: readonly Tuple[]): Promise<void>;
  writeAttributes(attributes: readonly Attribute[]): Promise<void>;
  /** Returns how many tuples were deleted; -1 when the backend does not say (remote Permify). */
  deleteRelationships(filter: RelationshipFilter): Promise<number>;
  /** Replaces the schema; throws `schema_invalid` / `unsupported` without changing anything. */
  writeSchema(dsl: string): Promise<void>;
}

export type AuthzErrorCode =
  | "schema_invalid"
  | "schema_missing"
  | "unsupported"
  | "unknown_entity"
  | "unknown_permission"
  | "invalid_relationship"
  | "invalid_request"
  | "depth_exhausted"
  | "invalid_depth"
  | "rule_failed"
  // Remote backends only (external Permify): credentials refused, unreachable, too slow.
  | "unauthenticated"
  | "unavailable"
  | "timeout";

/** Typed failure: callers branch on `code`, never on message text. */
export class AuthzError extends Error {
  readonly code: AuthzErrorCode;

  constructor(code: AuthzErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "AuthzError";
    this.code = code;
  }
}

export const DEFAULT_DEPTH = 100;
export const MIN_DEPTH = 3;

/** Applies Permify's depth rules: 0/missing → 100, below 3 → `invalid_depth`. */
export function resolveDepth(depth: number | undefined): number {
  if (depth === undefined || depth === 0) return DEFAULT_DEPTH;
  if (!Number.isInteger(depth) || depth < MIN_DEPTH) {
    throw new AuthzError("invalid_depth", `depth must be an integer >= ${MIN_DEPTH}, got ${depth}`);
  }
  return depth;
}
