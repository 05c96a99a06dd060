import type { Context } from "hono";
import type { AppEnv } from "../../http/env";

/**
 * Which of `permissions` the signed-in person has on `entity`, for showing only the buttons they
 * may use (the domain verbs check again when they are pressed).
 */
export async function permissionsOn<P extends string>(
  c: Context<AppEnv>,
  entity: { type: string; id: string },
  permissions: readonly P[],
): Promise<Record<P, boolean>> {
  const actor = c.var.actor;
  const out = {} as Record<P, boolean>;
  for (const permission of permissions) {
    out[permission] =
      actor?.kind === "user"
        ? (
            await c.var.deps.authz.check({
              entity,
              permission,
              subject: { type: "user", id: actor.userId },
            })
          ).allowed
        : false;
  }
  return out;
}
