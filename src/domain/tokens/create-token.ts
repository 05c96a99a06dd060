import { eq } from "drizzle-orm";
import { apiTokens, type ProjectRole } from "../../db/schema";
import { newSecret, sha256Hex } from "../../lib/secrets";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { actingUserId, commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { API_TOKEN_PREFIX } from "../identity/api-token-auth";
import {
  effectiveRole,
  loadOrganization,
  orgRef,
  projectRef,
  ROLE_RANK,
  roleTuple,
  tokenRef,
  userRef,
} from "../orgs/shared";
import { loadProject } from "../projects/shared";
import { writeTuples } from "../relationships";
import { type ApiTokenView, tokenView } from "./shared";

/** Tokens are never owners (the schema only lets people own); admin is the highest role. */
export type TokenRole = ProjectRole;

export type CreateTokenInput = {
  name: string;
  role: TokenRole;
  /** Limits the token to one project of the organization. */
  projectId?: string | undefined;
  /** UTC milliseconds; the token works until then. No expiry when left out. */
  expiresAt?: number | undefined;
};

/** How many characters of the secret lists show, so people can tell tokens apart. */
const DISPLAY_CHARS = API_TOKEN_PREFIX.length + 6;

/**
 * Mints an API token for an organization (or one of its projects) with a role no higher than the
 * caller's own there (403 `role_too_high`), so a token can never mint a stronger one either. The
 * secret is returned once; only its SHA-256 and a short display prefix are stored.
 */
export async function createToken(
  sc: ServiceContext,
  orgId: string,
  input: CreateTokenInput,
): Promise<{ token: ApiTokenView; secret: string }> {
  return auditRefusals(
    sc,
    { action: "api_token.create", target: orgRef(orgId), orgId },
    async () => {
      const org = orgRef(orgId);
      const scope = input.projectId === undefined ? org : projectRef(input.projectId);
      await authorizeActor(sc, scope, input.projectId === undefined ? "create_token" : "view");
      await loadOrganization(sc.deps, orgId);
      if (input.projectId !== undefined) {
        const project = await loadProject(sc.deps, input.projectId);
        if (project.orgId !== orgId) {
          throw new ServiceError("NOT_FOUND", `No project ${input.projectId} in ${orgId}.`);
        }
      }
      const { db, clock, ids, random } = sc.deps;
      const now = clock.now();
      if (input.expiresAt !== undefined && input.expiresAt <= now) {
        throw new ServiceError("VALIDATION", "The expiry must be in the future.", [
          { in: "body", field: "expiresAt", code: "in_past", message: "must be in the future" },
        ]);
      }
      const own = await effectiveRole(sc, scope);
      if (own === null || ROLE_RANK[input.role] > ROLE_RANK[own]) {
        throw new ServiceError(
          "FORBIDDEN",
          `A token cannot have a higher role than yours (${own ?? "none"}) here.`,
          [
            {
              in: "body",
              field: "role",
              code: "role_too_high",
              message: `at most ${own ?? "none"}`,
            },
          ],
          "role_too_high",
        );
      }
      const createdBy = actingUserId(sc.actor);
      if (createdBy === null) throw new ServiceError("FORBIDDEN", "Tokens are minted for people.");
      const parent =
        sc.actor.kind === "api_token" ? await mintingToken(sc, sc.actor.tokenId) : null;
      const expiresAt = cappedExpiry(input.expiresAt, parent);
      const secret = newSecret(random, API_TOKEN_PREFIX);
      const row = {
        id: ids.next("apiToken"),
        orgId,
        projectId: input.projectId ?? null,
        name: input.name.trim(),
        role: input.role,
        tokenHash: await sha256Hex(secret),
        prefix: secret.slice(0, DISPLAY_CHARS),
        createdBy,
        parentTokenId: parent?.id ?? null,
        createdAt: now,
        expiresAt,
        lastUsedAt: null,
        revokedAt: null,
      };
      const ref = tokenRef(row.id);
      await commit(db, [
        db.insert(apiTokens).values(row),
        ...writeTuples(sc, [
          roleTuple(ref, "creator", userRef(createdBy)),
          roleTuple(ref, "org", org),
          roleTuple(scope, input.role, ref),
        ]),
        auditStatement(sc, {
          action: "api_token.create",
          target: ref,
          orgId,
          detail: {
            name: row.name,
            role: row.role,
            projectId: row.projectId,
            expiresAt: row.expiresAt,
          },
        }),
      ]);
      return { token: tokenView(row), secret };
    },
  );
}

/** The token a token-minted token comes from: revoking it revokes the child too. */
async function mintingToken(
  sc: ServiceContext,
  tokenId: string,
): Promise<{ id: string; expiresAt: number | null }> {
  const [row] = await sc.deps.db
    .select({ id: apiTokens.id, expiresAt: apiTokens.expiresAt })
    .from(apiTokens)
    .where(eq(apiTokens.id, tokenId))
    .limit(1);
  if (!row) throw new ServiceError("FORBIDDEN", "The calling token is gone.");
  return row;
}

/**
 * A token minted by a token lives no longer than it: by default until the minting token expires,
 * and a later expiry is refused (422 on `expiresAt`).
 */
function cappedExpiry(
  asked: number | undefined,
  parent: { expiresAt: number | null } | null,
): number | null {
  const limit = parent?.expiresAt ?? null;
  if (limit === null) return asked ?? null;
  if (asked === undefined) return limit;
  if (asked > limit) {
    throw new ServiceError("VALIDATION", "A token cannot outlive the token that mints it.", [
      {
        in: "body",
        field: "expiresAt",
        code: "after_parent",
        message: `at most ${new Date(limit).toISOString()}`,
      },
    ]);
  }
  return asked;
}
