import { clientIp } from "../../../http/client-ip";
import type { Ctx } from "../../../http/env";
import { enforceRateLimit } from "../../../http/rate-limit";

/** Passkey ceremonies are where guessing and abuse happen: limit them per address and per account. */
export const CEREMONY_LIMITS = {
  perIp: { limit: 30, windowMs: 60_000 },
  perAccount: { limit: 10, windowMs: 60_000 },
};

export async function limitCeremony(c: Ctx, account?: string): Promise<void> {
  await enforceRateLimit(c, CEREMONY_LIMITS.perIp, [`ceremony:ip:${clientIp(c)}`]);
  if (account !== undefined) {
    await enforceRateLimit(c, CEREMONY_LIMITS.perAccount, [
      `ceremony:account:${account.toLowerCase()}`,
    ]);
  }
}
