import type { RegistrationResponseJSON } from "@simplewebauthn/server";
import { and, asc, eq, sql } from "drizzle-orm";
import { passkeys } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { abortUnlessChanged, isStaleWrite } from "../write-guard";
import { commitRegistration, passkeyInsert } from "./accounts";
import {
  beginRegistration,
  finishRegistration,
  type PasskeyRow,
  type RegistrationBegin,
} from "./ceremonies";
import { findUser } from "./users";

/** A signed-in person managing their own passkeys. Nobody can touch another user's passkeys. */

function selfId(sc: ServiceContext): string {
  if (sc.actor.kind !== "user") {
    throw new ServiceError(
      "FORBIDDEN",
      "Passkeys are managed by their owner in a browser session, not with API tokens.",
    );
  }
  return sc.actor.userId;
}

export async function listPasskeys(sc: ServiceContext): Promise<PasskeyRow[]> {
  const userId = selfId(sc);
  return sc.deps.db
    .select()
    .from(passkeys)
    .where(eq(passkeys.userId, userId))
    .orderBy(asc(passkeys.createdAt));
}

export async function beginAddPasskey(sc: ServiceContext): Promise<RegistrationBegin> {
  const userId = selfId(sc);
  const user = await findUser(sc.deps, userId);
  if (!user) throw new ServiceError("UNAUTHENTICATED", "Your account no longer exists.");
  const existing = await listPasskeys(sc);
  return beginRegistration(sc.deps, {
    purpose: "add_passkey",
    user: { id: user.id, email: user.email, displayName: user.displayName },
    existing,
    context: {},
  });
}

export async function finishAddPasskey(
  sc: ServiceContext,
  input: { ceremonyId: string; response: RegistrationResponseJSON; name?: string | undefined },
): Promise<PasskeyRow> {
  const userId = selfId(sc);
  const { challenge, passkey } = await finishRegistration(
    sc.deps,
    input.ceremonyId,
    "add_passkey",
    input.response,
  );
  if (challenge.userId !== userId) {
    throw new ServiceError(
      "VALIDATION",
      "This passkey request belongs to another session.",
      [],
      "challenge_invalid",
    );
  }
  const count = (await listPasskeys(sc)).length;
  const name = input.name?.trim() || `Passkey ${count + 1}`;
  const insert = passkeyInsert(sc.deps, userId, passkey, name);
  await commitRegistration(sc.deps, [
    insert,
    auditStatement(sc, {
      action: "passkey.add",
      target: { type: "user", id: userId },
      detail: { name },
    }),
  ]);
  const [row] = await sc.deps.db
    .select()
    .from(passkeys)
    .where(eq(passkeys.credentialId, passkey.credentialId));
  if (!row) throw new Error("passkey vanished after insert");
  return row;
}

async function ownPasskey(sc: ServiceContext, id: string): Promise<PasskeyRow> {
  const userId = selfId(sc);
  const [row] = await sc.deps.db
    .select()
    .from(passkeys)
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .limit(1);
  if (!row) throw new ServiceError("NOT_FOUND", `No passkey ${id}.`);
  return row;
}

export async function renamePasskey(
  sc: ServiceContext,
  id: string,
  name: string,
): Promise<PasskeyRow> {
  const row = await ownPasskey(sc, id);
  await commit(sc.deps.db, [
    sc.deps.db.update(passkeys).set({ name }).where(eq(passkeys.id, id)),
    auditStatement(sc, {
      action: "passkey.rename",
      target: { type: "user", id: row.userId },
      detail: { passkey: id, name },
    }),
  ]);
  return { ...row, name };
}

/** Removes a passkey unless it is the user's last one (they could never sign in again). */
export async function removePasskey(sc: ServiceContext, id: string): Promise<void> {
  const row = await ownPasskey(sc, id);
  const { db } = sc.deps;
  try {
    await commit(db, [
      // The count is re-checked inside the DELETE, so two concurrent removals cannot both succeed.
      db
        .delete(passkeys)
        .where(
          and(
            eq(passkeys.id, id),
            sql`(SELECT count(*) FROM passkeys WHERE user_id = ${row.userId}) > 1`,
          ),
        ),
      abortUnlessChanged(db),
      // In the same batch: a removal is never without its audit event, nor the other way round.
      auditStatement(sc, {
        action: "passkey.remove",
        target: { type: "user", id: row.userId },
        detail: { passkey: id, name: row.name },
      }),
    ]);
  } catch (err) {
    if (!isStaleWrite(err)) throw err;
    throw new ServiceError(
      "CONFLICT",
      "This is your only passkey; add another one before removing it.",
      [],
      "last_passkey",
    );
  }
}
