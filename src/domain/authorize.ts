import type { EntityRef } from "../authz/authorizer";
import { type ServiceContext, subjectOf } from "./context";
import { ServiceError } from "./errors";

export type AuthorizeOptions = {
  /**
   * The permission that makes the target visible (default `view`); null when the target is not
   * secret (the platform itself), so a denial is always 403.
   */
  viewPermission?: string | null;
};

/**
 * The one authorization gate, the first line of every domain verb. Allowed → returns. Denied →
 * 403 when the caller may see the target, 404 when it may not (so other tenants' ids leak nothing).
 */
export async function authorizeActor(
  sc: ServiceContext,
  entity: EntityRef,
  permission: string,
  options: AuthorizeOptions = {},
): Promise<void> {
  const subject = subjectOf(sc.actor);
  const { authz } = sc.deps;
  if ((await authz.check({ entity, permission, subject })).allowed) return;
  const viewPermission = options.viewPermission === undefined ? "view" : options.viewPermission;
  const visible =
    viewPermission === null ||
    (permission !== viewPermission &&
      (await authz.check({ entity, permission: viewPermission, subject })).allowed);
  if (visible) {
    throw new ServiceError(
      "FORBIDDEN",
      `You may not ${permission.replaceAll("_", " ")} this ${entity.type}.`,
    );
  }
  throw new ServiceError("NOT_FOUND", `No ${entity.type} ${entity.id}.`);
}
