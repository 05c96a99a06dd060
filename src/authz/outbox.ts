import { and, asc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "../db/database";
import { authzAttributes, authzOutbox, authzTuples } from "../db/schema/authz";
import { settings } from "../db/schema/settings";
import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import type { Attribute, Authorizer, Tuple } from "./authorizer";

/**
 * Keeps an external Permify in step with the relationship tuples in libSQL. Triggers on
 * `authz_tuples` (migration 0005) queue every insert and delete in `authz_outbox`, in the same
 * transaction as the change, while sync is on. The drainer replays the queue oldest first and
 * stops at the first failure, so Permify sees changes in commit order; a failed row waits with
 * exponential backoff (1 s doubling, at most 5 min) and keeps its error for operators.
 */

const SYNC_KEY = "authz_sync";
const BATCH = 100;
const MAX_BACKOFF_MS = 5 * 60_000;

type Deps = { db: Database; clock: Clock; log: Logger };

/**
 * Turns queueing on (an external Permify decides) or off (the embedded engine reads the tuples).
 * Turning it on when it was off (the first start with Permify, or a return to it after a time
 * with the embedded engine) also queues, in the same batch: a `reset` that empties Permify of
 * `entityTypes` (it may hold tuples the database deleted meanwhile), then every tuple and
 * attribute the database has. So Permify starts from exactly what the database says.
 */
export async function setOutboxSync(
  deps: Pick<Deps, "db" | "clock">,
  on: boolean,
  entityTypes: readonly string[] = [],
): Promise<void> {
  const { db } = deps;
  if (!on) {
    await db.delete(settings).where(eq(settings.key, SYNC_KEY));
    return;
  }
  const now = deps.clock.now();
  const wasOff = sql`NOT EXISTS (SELECT 1 FROM ${settings} WHERE ${settings.key} = ${SYNC_KEY})`;
  const queue = sql`INSERT INTO ${authzOutbox} (op, payload, attempts, next_attempt_at, created_at)`;
  await db.batch([
    db.run(sql`${queue} SELECT 'reset', ${JSON.stringify({ entityTypes })}, 0, ${now}, ${now}
      WHERE ${wasOff}`),
    db.run(sql`${queue} SELECT 'write', json_object(
        'entity', json_object('type', entity_type, 'id', entity_id),
        'relation', relation,
        'subject', CASE WHEN subject_relation = ''
          THEN json_object('type', subject_type, 'id', subject_id)
          ELSE json_object('type', subject_type, 'id', subject_id, 'relation', subject_relation)
        END), 0, ${now}, ${now}
      FROM ${authzTuples} WHERE ${wasOff} ORDER BY id`),
    db.run(sql`${queue} SELECT 'attribute', json_object(
        'entity', json_object('type', entity_type, 'id', entity_id),
        'attribute', attribute,
        'value', json(value)), 0, ${now}, ${now}
      FROM ${authzAttributes} WHERE ${wasOff}`),
    db
      .insert(settings)
      .values({ key: SYNC_KEY, value: "permify", updatedAt: now })
      .onConflictDoUpdate({ target: settings.key, set: { value: "permify", updatedAt: now } }),
  ]);
}

export type DrainResult = { applied: number; pending: boolean; error?: string };

type Row = typeof authzOutbox.$inferSelect;

/** Consecutive writes go to Permify as one request; each delete is its own exact filter. */
function groups(rows: readonly Row[]): Row[][] {
  const out: Row[][] = [];
  for (const row of rows) {
    const last = out[out.length - 1];
    if (row.op === "write" && last?.[0]?.op === "write") last.push(row);
    else out.push([row]);
  }
  return out;
}

async function apply(remote: Authorizer, group: readonly Row[]): Promise<void> {
  const [first] = group;
  if (!first) return;
  if (first.op === "write") {
    await remote.writeRelationships(group.map((r) => r.payload as Tuple));
    return;
  }
  if (first.op === "attribute") {
    await remote.writeAttributes([first.payload as Attribute]);
    return;
  }
  if (first.op === "reset") {
    const { entityTypes } = first.payload as { entityTypes: string[] };
    for (const entityType of entityTypes) await remote.deleteRelationships({ entityType });
    return;
  }
  const t = first.payload as Tuple;
  await remote.deleteRelationships({
    entityType: t.entity.type,
    entityIds: [t.entity.id],
    relation: t.relation,
    subjectType: t.subject.type,
    subjectIds: [t.subject.id],
    ...(t.subject.relation ? { subjectRelation: t.subject.relation } : {}),
  });
}

/** One drainer at a time: the lease's row in `settings`, taken when free or older than this. */
const LEASE_KEY = "authz_drain_lease";
/** Longer than a drain's Permify calls may take (their own timeouts and retries). */
const LEASE_MS = 60_000;
/** A drain that finds the lease taken waits this long for it, polling. */
const LEASE_WAIT_MS = 5_000;
const LEASE_POLL_MS = 25;

/**
 * Replays the queue to Permify, oldest first. Two drainers at once (every mutating request and the
 * periodic job drain) could each send the same rows, and one's late write would land after the
 * other's delete of the same tuple, leaving Permify granting what the database took away; so one
 * drains at a time under a lease. One that cannot get it in `LEASE_WAIT_MS` leaves its rows to
 * the holder or the next drain.
 */
export async function drainOutbox(deps: Deps, remote: Authorizer): Promise<DrainResult> {
  // Most requests queue nothing: one read then, instead of taking and giving back the lease.
  const [queued] = await deps.db.select({ id: authzOutbox.id }).from(authzOutbox).limit(1);
  if (!queued) return { applied: 0, pending: false };
  // Not a secret or an identifier anyone sees: only tells this drain's lease from another's.
  const holder = crypto.randomUUID();
  const waitUntil = Date.now() + LEASE_WAIT_MS;
  while (!(await takeLease(deps, holder))) {
    if (Date.now() >= waitUntil) return { applied: 0, pending: true };
    await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
  }
  try {
    return await drainHeld(deps, remote);
  } finally {
    await deps.db
      .delete(settings)
      .where(and(eq(settings.key, LEASE_KEY), eq(settings.value, holder)));
  }
}

async function takeLease(deps: Pick<Deps, "db" | "clock">, holder: string): Promise<boolean> {
  const now = deps.clock.now();
  const taken = await deps.db
    .insert(settings)
    .values({ key: LEASE_KEY, value: holder, updatedAt: now })
    .onConflictDoUpdate({
      target: settings.key,
      set: { value: holder, updatedAt: now },
      // Only a lease its holder never gave back (it died mid-drain) is taken over.
      setWhere: lt(settings.updatedAt, now - LEASE_MS),
    })
    .returning({ key: settings.key });
  return taken.length > 0;
}

async function drainHeld(deps: Deps, remote: Authorizer): Promise<DrainResult> {
  const now = deps.clock.now();
  // Oldest first, due or not: a row waiting out its backoff holds back everything after it.
  const rows = await deps.db.select().from(authzOutbox).orderBy(asc(authzOutbox.id)).limit(BATCH);
  let applied = 0;
  for (const group of groups(rows)) {
    if ((group[0]?.nextAttemptAt ?? 0) > now) return { applied, pending: true };
    const ids = group.map((r) => r.id);
    try {
      await apply(remote, group);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const attempts = (group[0]?.attempts ?? 0) + 1;
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (attempts - 1));
      await deps.db
        .update(authzOutbox)
        .set({ attempts, nextAttemptAt: now + backoff, lastError: error.slice(0, 500) })
        .where(inArray(authzOutbox.id, ids));
      deps.log.warn("authz outbox: Permify did not take a change; will retry", {
        outboxIds: ids,
        attempts,
        retryInMs: backoff,
        error,
      });
      return { applied, pending: true, error };
    }
    await deps.db.delete(authzOutbox).where(inArray(authzOutbox.id, ids));
    applied += group.length;
  }
  return { applied, pending: rows.length === BATCH };
}
