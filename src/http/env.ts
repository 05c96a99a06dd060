import type { Context } from "hono";
import type { Deps } from "../deps";

/** The app's Hono environment: deps and per-request values live in `c.var`, typed end to end. */
export type AppEnv = {
  Variables: {
    deps: Deps;
    requestId: string;
  };
};

export type Ctx = Context<AppEnv>;
