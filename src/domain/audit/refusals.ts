import { recordAudit } from "../audit/record";
import type { ServiceContext } from "../context";
import { ServiceError } from "../errors";

export type RefusalAudit = {
  action: string;
  target: { type: string; id: string };
  /** The organization's id, or how to find it (only asked when a refusal is recorded). */
  orgId: string | null | (() => Promise<string | null>);
};

/**
 * Runs a mutation and, when it is refused, records that in the audit log as well: `denied` for a
 * 403 (the caller could see the target, so the organization may know), `failure` for a state
 * conflict. 404s (targets the caller may not see) and invalid input are not recorded: they would
 * tell an organization's log about someone else's guesses or typos.
 */
export async function auditRefusals<T>(
  sc: ServiceContext,
  audit: RefusalAudit,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (
      err instanceof ServiceError &&
      (err.code === "FORBIDDEN" || err.code === "CONFLICT" || err.code === "PRECONDITION_FAILED")
    ) {
      const orgId = typeof audit.orgId === "function" ? await audit.orgId() : audit.orgId;
      await recordAudit(sc, {
        action: audit.action,
        target: audit.target,
        orgId,
        outcome: err.code === "FORBIDDEN" ? "denied" : "failure",
        detail: { reason: err.reason ?? err.code.toLowerCase(), message: err.message },
      });
    }
    throw err;
  }
}
