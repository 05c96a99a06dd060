import type { AppConfig } from "../config";
import type { Database } from "../db/database";
import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import type { Authorizer } from "./authorizer";
import { type DrainResult, drainOutbox, setOutboxSync } from "./outbox";

type SyncDeps = { config: AppConfig; db: Database; clock: Clock; log: Logger; authz: Authorizer };

/**
 * Makes the configured engine ready: with an external Permify, writes our schema to it and turns
 * the outbox on; with the embedded engine, turns the outbox off (nothing would drain it).
 */
export async function prepareAuthorizer(deps: SyncDeps, schemaDsl: string): Promise<void> {
  if (deps.config.authz.mode === "embedded") {
    await setOutboxSync(deps, false);
    return;
  }
  await deps.authz.writeSchema(schemaDsl);
  await setOutboxSync(deps, true, entityTypesOf(schemaDsl));
  // A backfill (sync just turned on) goes out now, as far as a start may take: checks against
  // Permify are incomplete until it is through. Requests and the periodic job drain the rest.
  for (let batch = 0; batch < STARTUP_DRAIN_BATCHES; batch++) {
    const drained = await syncAuthorizer(deps);
    if (!drained?.pending || drained.error !== undefined) break;
  }
}

/** Batches (of 100 changes) a start drains at most. */
const STARTUP_DRAIN_BATCHES = 20;

/** The entity types a Permify schema declares (`entity name {`). */
export function entityTypesOf(schemaDsl: string): string[] {
  return [...schemaDsl.matchAll(/^\s*entity\s+([a-z_][a-z0-9_]*)\s*\{/gm)].flatMap((m) =>
    m[1] ? [m[1]] : [],
  );
}

/** Pushes queued relationship changes to an external Permify; a no-op for the embedded engine. */
export async function syncAuthorizer(deps: SyncDeps): Promise<DrainResult | null> {
  if (deps.config.authz.mode === "embedded") return null;
  try {
    return await drainOutbox(deps, deps.authz);
  } catch (err) {
    // The database itself failed; the next request or the periodic job tries again.
    deps.log.error("authz outbox: drain failed", {
      error: err instanceof Error ? err.message : String(err),
    });
    return { applied: 0, pending: true, error: String(err) };
  }
}
