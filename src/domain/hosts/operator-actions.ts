import { eq } from "drizzle-orm";
import type { EntityRef } from "../../authz/authorizer";
import { hosts } from "../../db/schema";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { orgRef } from "../orgs/shared";
import { cancelWork } from "../work/cancel";
import { type CreateEnrollmentTokenInput, createEnrollmentToken } from "./create-enrollment-token";
import { revokeEnrollmentToken } from "./revoke-enrollment-token";
import { setMaintenance } from "./set-maintenance";
import { decideHost, type HostDecision } from "./transition";

/**
 * An operator's host actions as the REST API and the console both run them: authorized, and
 * audited when refused (`auditRefusals`), so neither door leaves a refused attempt out of the log.
 */

/** host#approve for the enrollment decision, host#operate for running it, host#delete to revoke. */
export const DECISION_PERMISSION: Record<HostDecision, string> = {
  approve: "approve",
  reject: "approve",
  disable: "operate",
  enable: "operate",
  revoke: "delete",
};

export const hostRef = (id: string): EntityRef => ({ type: "host", id });

async function orgOfHost(sc: ServiceContext, hostId: string): Promise<string | null> {
  const row = await sc.deps.db.query.hosts.findFirst({
    where: eq(hosts.id, hostId),
    columns: { orgId: true },
  });
  return row?.orgId ?? null;
}

export function decideHostAs(
  sc: ServiceContext,
  hostId: string,
  decision: HostDecision,
): Promise<void> {
  const target = hostRef(hostId);
  return auditRefusals(
    sc,
    { action: `host.${decision}`, target, orgId: () => orgOfHost(sc, hostId) },
    async () => {
      await authorizeActor(sc, target, DECISION_PERMISSION[decision]);
      await decideHost(sc, hostId, decision);
    },
  );
}

export function setMaintenanceAs(
  sc: ServiceContext,
  hostId: string,
  enabled: boolean,
): Promise<void> {
  const target = hostRef(hostId);
  return auditRefusals(
    sc,
    {
      action: enabled ? "host.maintenance_on" : "host.maintenance_off",
      target,
      orgId: () => orgOfHost(sc, hostId),
    },
    async () => {
      await authorizeActor(sc, target, "operate");
      await setMaintenance(sc, hostId, enabled);
    },
  );
}

export function cancelHostWorkAs(
  sc: ServiceContext,
  hostId: string,
  itemId: string,
): Promise<unknown> {
  return auditRefusals(
    sc,
    {
      action: "work_item.cancel",
      target: { type: "work_item", id: itemId },
      orgId: () => orgOfHost(sc, hostId),
    },
    async () => {
      await authorizeActor(sc, hostRef(hostId), "operate");
      return cancelWork(sc, itemId, { hostId });
    },
  );
}

/** `input` is read once the caller may manage hosts: who may not hears so before any typo. */
export function createEnrollmentTokenAs(
  sc: ServiceContext,
  orgId: string,
  input: () => Omit<CreateEnrollmentTokenInput, "orgId">,
) {
  const target = orgRef(orgId);
  return auditRefusals(sc, { action: "enrollment_token.create", target, orgId }, async () => {
    await authorizeActor(sc, target, "manage_hosts");
    return createEnrollmentToken(sc, { ...input(), orgId });
  });
}

export function revokeEnrollmentTokenAs(
  sc: ServiceContext,
  orgId: string,
  tokenId: string,
): Promise<void> {
  const target = orgRef(orgId);
  return auditRefusals(sc, { action: "enrollment_token.revoke", target, orgId }, async () => {
    await authorizeActor(sc, target, "manage_hosts");
    await revokeEnrollmentToken(sc, orgId, tokenId);
  });
}
