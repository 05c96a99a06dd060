import { eq } from "drizzle-orm";
import { hosts } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";

export type HostReport = {
  /** What the agent's last status named as wrong (empty when none or no status yet). */
  problems: string[];
  lastStatusAt: number | null;
  journalBacklog: number | null;
  /** Work items the agent holds until the items they run after have finished. */
  blockedItemIds: string[];
};

/** The parts of a host's last status report people look at (`HostView` leaves `status` out). */
export async function hostReport(sc: ServiceContext, hostId: string): Promise<HostReport> {
  await authorizeActor(sc, { type: "host", id: hostId }, "view");
  const row = await sc.deps.db.query.hosts.findFirst({
    where: eq(hosts.id, hostId),
    columns: { status: true, lastStatusAt: true },
  });
  if (!row) throw new ServiceError("NOT_FOUND", `No host ${hostId}.`);
  const status = row.status ?? {};
  const problems = Array.isArray(status.problems)
    ? status.problems.filter((p): p is string => typeof p === "string")
    : [];
  const backlog = status.journal_backlog;
  const blocked = Array.isArray(status.blocked) ? status.blocked : [];
  return {
    problems,
    lastStatusAt: row.lastStatusAt,
    journalBacklog: typeof backlog === "number" ? backlog : null,
    blockedItemIds: blocked.flatMap((b: unknown) =>
      typeof b === "object" && b !== null && "item_id" in b && typeof b.item_id === "string"
        ? [b.item_id]
        : [],
    ),
  };
}
