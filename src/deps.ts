import type { MiddlewareHandler } from "hono";
import type { AppConfig } from "./config";
import type { Database } from "./db/database";
import { type Clock, systemClock } from "./lib/clock";
import { createIds, type Ids } from "./lib/ids";
import { consoleSink, createJsonLogger, type Logger } from "./lib/logger";
import { cryptoRandom, type Random } from "./lib/random";

/**
 * Every external system the control plane touches, in one place. Entry points (Worker, Node, tests)
 * build this once and pass it to `createApp`; nothing below them reads the environment.
 */
export type Deps = {
  config: AppConfig;
  db: Database;
  clock: Clock;
  random: Random;
  ids: Ids;
  log: Logger;
  /**
   * Serves files from `public/` where the runtime does not do it itself (Node). On Workers the
   * platform serves assets before the Worker runs, so this is left out.
   */
  staticAssets?: MiddlewareHandler;
};

/** Deps with the real clock, randomness and JSON console logging: what both entry points use. */
export function systemDeps(
  config: AppConfig,
  db: Database,
  extra: Pick<Deps, "staticAssets"> = {},
): Deps {
  const log = createJsonLogger(consoleSink, systemClock.now);
  return {
    config,
    db,
    clock: systemClock,
    random: cryptoRandom,
    ids: createIds(systemClock, cryptoRandom),
    log,
    ...extra,
  };
}
