import type { BatchItem } from "drizzle-orm/batch";
import type { SubjectRef } from "../authz/authorizer";
import type { Database } from "../db/database";
import { failedWith } from "../db/errors";
import type { OrgRole } from "../db/schema";
import type { Deps } from "../deps";

/** Who is acting. Every domain verb receives one and records it in the audit log. */
export type Actor =
  | { kind: "user"; userId: string; sessionId: string | null }
  | {
      kind: "api_token";
      tokenId: string;
      /** The person who minted the token; audit entries name both. */
      createdBy: string;
      orgId: string;
      projectId: string | null;
      role: OrgRole;
    }
  /** An agent reporting results (audited as the host's doing; never checked against the schema). */
  | { kind: "host"; hostId: string }
  | { kind: "system" };

/** What a domain verb needs besides its input: the seams, the actor and the request for the audit. */
export type ServiceContext = { deps: Deps; actor: Actor; requestId: string };

/** The authorization subject an actor is checked as. */
export function subjectOf(actor: Actor): SubjectRef {
  switch (actor.kind) {
    case "user":
      return { type: "user", id: actor.userId };
    case "api_token":
      return { type: "api_token", id: actor.tokenId };
    case "host":
      return { type: "host", id: actor.hostId };
    case "system":
      return { type: "user", id: "system" };
  }
}

export function actorId(actor: Actor): string {
  switch (actor.kind) {
    case "user":
      return actor.userId;
    case "api_token":
      return actor.tokenId;
    case "host":
      return actor.hostId;
    case "system":
      return "system";
  }
}

/** The user behind an actor (a token acts for its creator), or null for the system. */
export function actingUserId(actor: Actor): string | null {
  if (actor.kind === "user") return actor.userId;
  if (actor.kind === "api_token") return actor.createdBy;
  return null;
}

export type Statement = BatchItem<"sqlite">;

/**
 * Runs statements as one atomic batch (a single transaction on libSQL, also over HTTP), so a
 * resource, its authorization tuples and its audit event are written together or not at all.
 */
export async function commit(db: Database, statements: readonly Statement[]): Promise<void> {
  const [first, ...rest] = statements;
  if (first === undefined) return;
  await db.batch([first, ...rest]);
}

/**
 * `commit`, answering a unique-key conflict (another request inserted the same name meanwhile) with
 * `conflict()`: the same answer as if this request had come second.
 */
export async function commitOr(
  conflict: () => Error,
  db: Database,
  statements: readonly Statement[],
): Promise<void> {
  try {
    await commit(db, statements);
  } catch (err) {
    throw failedWith(err, /UNIQUE constraint failed/i) ? conflict() : err;
  }
}
