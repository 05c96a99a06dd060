import { eq } from "drizzle-orm";
import { apiTokens } from "../../db/schema";
import type { Deps } from "../../deps";
import { sha256Hex } from "../../lib/secrets";
import type { Actor } from "../context";
import { ServiceError } from "../errors";

/** Every API token starts with this, so secret scanners and people recognise a leaked one. */
export const API_TOKEN_PREFIX = "strato_";

const TOUCH_INTERVAL_MS = 60_000;

/** The actor behind an `Authorization: Bearer` secret; 401 for unknown, revoked or expired tokens. */
export async function actorFromApiToken(deps: Deps, secret: string): Promise<Actor> {
  if (!secret.startsWith(API_TOKEN_PREFIX)) {
    throw new ServiceError(
      "UNAUTHENTICATED",
      "The bearer token is not a Strato API token.",
      [],
      "token_invalid",
    );
  }
  const [token] = await deps.db
    .select()
    .from(apiTokens)
    .where(eq(apiTokens.tokenHash, await sha256Hex(secret)))
    .limit(1);
  if (!token)
    throw new ServiceError("UNAUTHENTICATED", "The API token is not valid.", [], "token_invalid");
  const now = deps.clock.now();
  if (token.revokedAt !== null) {
    throw new ServiceError(
      "UNAUTHENTICATED",
      "The API token has been revoked.",
      [],
      "token_revoked",
    );
  }
  if (token.expiresAt !== null && now >= token.expiresAt) {
    throw new ServiceError("UNAUTHENTICATED", "The API token has expired.", [], "token_expired");
  }
  if (token.lastUsedAt === null || now - token.lastUsedAt >= TOUCH_INTERVAL_MS) {
    await deps.db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, token.id));
  }
  return {
    kind: "api_token",
    tokenId: token.id,
    createdBy: token.createdBy,
    orgId: token.orgId,
    projectId: token.projectId,
    role: token.role,
  };
}
