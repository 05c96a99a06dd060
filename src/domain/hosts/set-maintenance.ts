import { eq } from "drizzle-orm";
import { hosts } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";

/** Operator drain: no new work is placed on the host; what it runs keeps running. */
export async function setMaintenance(
  sc: ServiceContext,
  hostId: string,
  maintenance: boolean,
): Promise<void> {
  const { db, clock } = sc.deps;
  const host = await db.query.hosts.findFirst({ where: eq(hosts.id, hostId) });
  if (!host) throw new ServiceError("NOT_FOUND", "No such host.");
  await commit(db, [
    db.update(hosts).set({ maintenance, updatedAt: clock.now() }).where(eq(hosts.id, hostId)),
    auditStatement(sc, {
      action: maintenance ? "host.maintenance_on" : "host.maintenance_off",
      target: { type: "host", id: hostId },
      orgId: host.orgId,
    }),
  ]);
}
