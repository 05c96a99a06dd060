import { and, eq, isNull, lt, lte } from "drizzle-orm";
import { agentIdempotencyKeys } from "../../db/schema";
import type { Deps } from "../../deps";
import { ProblemError } from "../../http/problem";
import { sha256Hex } from "../../lib/secrets";
import type { Statement } from "../context";

/** Keys are kept this long (design §2.7: 7 days). */
export const IDEMPOTENCY_RETENTION_MS = 7 * 86_400_000;
/** A first request that has not finished after this long is considered dead and may be retried. */
const IN_FLIGHT_TIMEOUT_MS = 60_000;

export type StoredResponse = { status: number; body: unknown };

/**
 * The statement that stores a request's answer. A run that commits its work in one batch puts it
 * in that batch, so a crash never keeps the work without its answer: the retry is answered from
 * the key, not run again. A run that does not (a claim signs its items after its commit) has the
 * answer stored after it.
 */
export type StoreAnswer = (response: StoredResponse) => Statement;

/**
 * IETF Idempotency-Key (draft-07) for agent POSTs, keyed by `(host_id, key)`: the first request
 * runs and its 2xx response is stored; a replay with the same request gets the stored response; a
 * replay with another request → 422 `idempotency_mismatch`; one while the first is in flight →
 * 409 `idempotency_in_flight`. Failures are not stored, so the agent may retry them.
 */
export async function withIdempotency(
  deps: Deps,
  hostId: string,
  key: string,
  request: string,
  run: (storeAnswer: StoreAnswer) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const { db } = deps;
  const now = deps.clock.now();
  const requestHash = await sha256Hex(request);
  const inserted = await db
    .insert(agentIdempotencyKeys)
    .values({ hostId, key, requestHash, createdAt: now, expiresAt: now + IDEMPOTENCY_RETENTION_MS })
    .onConflictDoNothing()
    .returning();
  const where = and(eq(agentIdempotencyKeys.hostId, hostId), eq(agentIdempotencyKeys.key, key));
  if (inserted.length === 0) {
    const existing = await db.query.agentIdempotencyKeys.findFirst({ where });
    if (existing && existing.expiresAt <= now) {
      // Past retention but not purged yet (purgeExpiredIdempotencyKeys): a new request. Taken
      // with a guard, so of two at once only one runs.
      const taken = await db
        .update(agentIdempotencyKeys)
        .set({
          requestHash,
          responseStatus: null,
          responseBody: null,
          createdAt: now,
          expiresAt: now + IDEMPOTENCY_RETENTION_MS,
        })
        .where(and(where, lte(agentIdempotencyKeys.expiresAt, now)))
        .returning({ key: agentIdempotencyKeys.key });
      if (taken.length === 0) throw inFlight();
    } else if (existing) {
      if (existing.requestHash !== requestHash) {
        throw new ProblemError({
          code: "idempotency_mismatch",
          detail: "This Idempotency-Key was used with a different request.",
        });
      }
      if (existing.responseStatus !== null && existing.responseBody !== null) {
        return {
          status: existing.responseStatus,
          body: JSON.parse(existing.responseBody),
          replayed: true,
        };
      }
      if (now - existing.createdAt < IN_FLIGHT_TIMEOUT_MS) throw inFlight();
      // Taken over from a first request that died; of two retries at once, one takes it.
      const taken = await db
        .update(agentIdempotencyKeys)
        .set({ createdAt: now })
        .where(and(where, eq(agentIdempotencyKeys.createdAt, existing.createdAt)))
        .returning({ key: agentIdempotencyKeys.key });
      if (taken.length === 0) throw inFlight();
    }
  }
  // Ours while it has no answer and this start time: a request that took it over since then
  // (after IN_FLIGHT_TIMEOUT_MS) keeps it.
  const ours = and(
    where,
    eq(agentIdempotencyKeys.createdAt, now),
    isNull(agentIdempotencyKeys.responseStatus),
  );
  let answeredInRun = false;
  const storeAnswer: StoreAnswer = (response) => {
    answeredInRun = true;
    return db
      .update(agentIdempotencyKeys)
      .set({ responseStatus: response.status, responseBody: JSON.stringify(response.body) })
      .where(ours);
  };
  let response: StoredResponse;
  try {
    response = await run(storeAnswer);
  } catch (error) {
    // Only a key still without an answer: one stored with work that committed stays.
    await db.delete(agentIdempotencyKeys).where(ours);
    throw error;
  }
  if (!answeredInRun) await storeAnswer(response);
  return { ...response, replayed: false };
}

function inFlight(): ProblemError {
  return new ProblemError({
    code: "idempotency_in_flight",
    detail: "A request with this Idempotency-Key is still being processed; retry later.",
  });
}

/** Drops keys past their retention (periodic jobs), rather than on every agent request. */
export async function purgeExpiredIdempotencyKeys(deps: Deps): Promise<number> {
  const result = await deps.db
    .delete(agentIdempotencyKeys)
    .where(lt(agentIdempotencyKeys.expiresAt, deps.clock.now()));
  return result.rowsAffected;
}
