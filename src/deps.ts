import type { Context, MiddlewareHandler } from "hono";
import type { Authorizer } from "./authz/authorizer";
import { EmbeddedAuthorizer } from "./authz/embedded/engine";
import { LibsqlTupleStore } from "./authz/embedded/libsql-store";
import type { AppConfig } from "./config";
import type { Database } from "./db/database";
import { type Clock, systemClock } from "./lib/clock";
import { createIds, type Ids } from "./lib/ids";
import { consoleSink, createJsonLogger, type Logger } from "./lib/logger";
import { cryptoRandom, type Random } from "./lib/random";
import { createLocalSigner } from "./signing/local";
import { type Signer, TrustNotReadyError } from "./signing/signer";
import { createInProcessWakeup } from "./wakeup/in-process";
import type { Wakeup } from "./wakeup/wakeup";

/**
 * Every external system the control plane touches, in one place. Entry points (Worker, Node, tests)
 * build this once and pass it to `createApp`; nothing below them reads the environment.
 */
export type Deps = {
  config: AppConfig;
  db: Database;
  /** Decides every action (permify/schema.perm); relationship tuples live in `db`. */
  authz: Authorizer;
  clock: Clock;
  random: Random;
  ids: Ids;
  log: Logger;
  /**
   * Serves files from `public/` where the runtime does not do it itself (Node). On Workers the
   * platform serves assets before the Worker runs, so this is left out.
   */
  staticAssets?: MiddlewareHandler;
  /** The peer address of a request where the runtime does not put it in a header (Node). */
  clientAddress?: (c: Context) => string | undefined;
  /** Signs work items for agents (src/signing); absent → the claim endpoint answers 503. */
  signer?: Signer;
  /** The agent doorbell (src/wakeup); absent → agents rely on their timed claims only. */
  wakeup?: Wakeup;
};

/**
 * The local signer from `config.signingKey` and `config.trust`, or undefined (agents get 503
 * not_ready) when either is missing or the trust bundle does not serve the signing key; `log` says
 * which. Malformed keys or bundles throw.
 */
export async function signerFromConfig(
  config: AppConfig,
  log: Logger,
): Promise<Signer | undefined> {
  if (config.signingKey === undefined) return undefined;
  if (config.trust === undefined) {
    log.error(
      "agents are refused: STRATO_SIGNING_KEY needs STRATO_TRUST_ROOT_KEY or STRATO_TRUST_BUNDLE",
      {},
    );
    return undefined;
  }
  try {
    return await localSigner(config, config.signingKey, config.trust);
  } catch (error) {
    if (!(error instanceof TrustNotReadyError)) throw error;
    log.error("agents are refused: the trust bundle does not serve the signing key", {
      detail: error.message,
    });
    return undefined;
  }
}

function localSigner(
  config: AppConfig,
  signingKey: string,
  trust: NonNullable<AppConfig["trust"]>,
): Promise<Signer> {
  return createLocalSigner({
    trust,
    // The window is the trust document's; rotation with overlap needs `previous` keys (not wired yet).
    active: { secret: signingKey, notBefore: 0, notAfter: 4_102_444_800 },
    ...(config.previousSigningKey
      ? {
          previous: [
            {
              secret: config.previousSigningKey.secret,
              notBefore: 0,
              notAfter: config.previousSigningKey.notAfter,
            },
          ],
        }
      : {}),
    revokedKids: config.revokedKids,
    trustVersion: config.agent.trustVersion,
  });
}

/** The embedded authorizer over the tuples in `db`, with the schema text compiled up front. */
export function embeddedAuthorizer(db: Database, clock: Clock, schemaDsl: string): Authorizer {
  return new EmbeddedAuthorizer(new LibsqlTupleStore(db, clock), schemaDsl);
}

/**
 * Deps with the real clock, randomness and JSON console logging: what both entry points use.
 * `authzSchema` is the text of permify/schema.perm (each runtime loads files its own way).
 */
export function systemDeps(
  config: AppConfig,
  db: Database,
  extra: Pick<Deps, "staticAssets" | "clientAddress" | "signer" | "wakeup"> & {
    authzSchema: string;
    /** An external Permify adapter (AUTHZ=permify-*); default: the embedded engine over `db`. */
    authz?: Authorizer;
  },
): Deps {
  const log = createJsonLogger(consoleSink, systemClock.now);
  const { authzSchema, authz, ...rest } = extra;
  return {
    config,
    db,
    authz: authz ?? embeddedAuthorizer(db, systemClock, authzSchema),
    clock: systemClock,
    random: cryptoRandom,
    ids: createIds(systemClock, cryptoRandom),
    log,
    wakeup: createInProcessWakeup(),
    ...rest,
  };
}
