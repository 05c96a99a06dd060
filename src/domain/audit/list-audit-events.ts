import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import { auditEvents } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";

export type AuditEventRow = typeof auditEvents.$inferSelect;

export type ListAuditEventsInput = {
  action?: string | undefined;
  actorId?: string | undefined;
  /** Page size, 1–200 (default 50). */
  limit?: number | undefined;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
};

export const AUDIT_PAGE_DEFAULT = 50;

/** Cursor: the (time, id) of the last event of a page, so pages never skip or repeat an event. */
export function encodeAuditCursor(event: Pick<AuditEventRow, "at" | "id">): string {
  return `${event.at.toString(36)}.${event.id}`;
}

function decodeAuditCursor(cursor: string): { at: number; id: string } {
  const match = /^([0-9a-z]{1,12})\.([a-z]+_[0-9a-z]{1,64})$/.exec(cursor);
  const at = match?.[1] === undefined ? Number.NaN : Number.parseInt(match[1], 36);
  if (!match?.[2] || !Number.isSafeInteger(at)) {
    throw new ServiceError("VALIDATION", "The cursor is not one this API returned.", [
      { in: "query", field: "cursor", code: "invalid_cursor", message: "not a valid cursor" },
    ]);
  }
  return { at, id: match[2] };
}

/**
 * An organization's audit log, newest first, for those with `audit` on it; optionally only one
 * action or one actor. Keyset pagination over (at, id).
 */
export async function listAuditEvents(
  sc: ServiceContext,
  orgId: string,
  input: ListAuditEventsInput = {},
): Promise<{ items: AuditEventRow[]; nextCursor: string | null }> {
  await authorizeActor(sc, { type: "organization", id: orgId }, "audit");
  const limit = input.limit ?? AUDIT_PAGE_DEFAULT;
  const conditions: (SQL | undefined)[] = [eq(auditEvents.orgId, orgId)];
  if (input.action !== undefined) conditions.push(eq(auditEvents.action, input.action));
  if (input.actorId !== undefined) conditions.push(eq(auditEvents.actorId, input.actorId));
  if (input.cursor !== undefined) {
    const after = decodeAuditCursor(input.cursor);
    conditions.push(
      or(
        lt(auditEvents.at, after.at),
        and(eq(auditEvents.at, after.at), lt(auditEvents.id, after.id)),
      ),
    );
  }
  const rows = await sc.deps.db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(limit + 1);
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? encodeAuditCursor(last) : null,
  };
}
