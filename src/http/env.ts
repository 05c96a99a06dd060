import type { Context } from "hono";
import type { Deps } from "../deps";
import type { Actor } from "../domain/context";
import type { ActiveSession } from "../domain/identity/sessions";

/** The app's Hono environment: deps and per-request values live in `c.var`, typed end to end. */
export type AppEnv = {
  Variables: {
    deps: Deps;
    requestId: string;
    /** Who is calling (set by `authenticate`); null for anonymous requests. */
    actor: Actor | null;
    /** The browser session, when the caller authenticated with the session cookie. */
    session: ActiveSession | null;
  };
};

export type Ctx = Context<AppEnv>;
