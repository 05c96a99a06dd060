import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { eq } from "drizzle-orm";
import { failedWith } from "../../db/errors";
import { passkeys } from "../../db/schema";
import type { Deps } from "../../deps";
import { auditStatement } from "../audit/record";
import { commit, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";

import { acceptInvitationStatements, findUsableInvitation } from "../orgs/accept-invitation";

import {
  type AuthenticationBegin,
  beginAuthentication,
  beginRegistration,
  finishAuthentication,
  finishRegistration,
  type RegistrationBegin,
} from "./ceremonies";
import { consumeSetupCode, setupCodeMatches } from "./setup-code";
import {
  countUsers,
  createUserStatements,
  findUser,
  findUserByEmail,
  normaliseEmail,
  type UserRow,
} from "./users";

/**
 * Account creation and sign-in: the set-up of a fresh installation, sign-up (by invitation, or
 * open when configured), and passkey sign-in (email-first or username-less).
 */

export type SignUpInput = {
  email: string;
  displayName: string;
  /** The set-up code of a fresh installation (makes the new account platform admin). */
  setupCode?: string;
  /** The secret of an organization invitation. */
  invitation?: string;
};

const field = (name: string, code: string, message: string) => [
  { in: "body" as const, field: name, code, message },
];

/** Starts the registration ceremony of a new account, after checking it may be created. */
export async function beginSignUp(deps: Deps, input: SignUpInput): Promise<RegistrationBegin> {
  const email = normaliseEmail(input.email);
  const context: Record<string, string> = {};
  const fresh = (await countUsers(deps)) === 0;
  if (input.setupCode !== undefined) {
    if (!fresh)
      throw new ServiceError(
        "CONFLICT",
        "This installation is already set up.",
        [],
        "already_set_up",
      );
    if (!(await setupCodeMatches(deps, input.setupCode))) {
      throw new ServiceError(
        "FORBIDDEN",
        "That set-up code is not valid. Use the one the server printed at its last start.",
        field("setupCode", "invalid", "not the current set-up code"),
        "setup_code_invalid",
      );
    }
    context.kind = "setup";
  } else if (fresh) {
    throw new ServiceError(
      "FORBIDDEN",
      "This installation is not set up yet: the first account needs the set-up code.",
      field("setupCode", "required", "required on a fresh installation"),
      "setup_code_invalid",
    );
  } else if (input.invitation !== undefined) {
    const invitation = await findUsableInvitation(deps, input.invitation);
    if (normaliseEmail(invitation.email) !== email) {
      throw new ServiceError(
        "VALIDATION",
        `This invitation is for ${invitation.email}.`,
        field("email", "invitation_mismatch", "must be the invited address"),
      );
    }
    context.kind = "invitation";
    context.invitationId = invitation.id;
  } else if (deps.config.signup === "open") {
    context.kind = "open";
  } else {
    throw new ServiceError(
      "FORBIDDEN",
      "Sign-up is by invitation only on this installation.",
      [],
      "signup_closed",
    );
  }
  if (await findUserByEmail(deps, email)) {
    throw emailTaken(field("email", "taken", "already registered"));
  }
  const user = { id: deps.ids.next("user"), email, displayName: input.displayName.trim() };
  return beginRegistration(deps, { purpose: "register", user, existing: [], context });
}

/** Finishes sign-up: verifies the passkey, then creates the account (and membership) at once. */
export async function completeSignUp(
  deps: Deps,
  input: { ceremonyId: string; response: RegistrationResponseJSON; requestId: string },
): Promise<UserRow> {
  const { challenge, passkey } = await finishRegistration(
    deps,
    input.ceremonyId,
    "register",
    input.response,
  );
  const { context } = challenge;
  const userId = challenge.userId;
  const email = context.email;
  const displayName = context.displayName;
  if (userId === null || email === undefined || displayName === undefined) {
    throw new ServiceError(
      "VALIDATION",
      "This passkey request is not a sign-up.",
      [],
      "challenge_invalid",
    );
  }
  if (await findUserByEmail(deps, email)) throw emailTaken([]);
  const now = deps.clock.now();
  const user: UserRow = {
    id: userId,
    email,
    displayName,
    isPlatformAdmin: context.kind === "setup",
    createdAt: now,
    updatedAt: now,
  };
  const sc: ServiceContext = {
    deps,
    actor: { kind: "user", userId, sessionId: null },
    requestId: input.requestId,
  };
  const statements: Statement[] = [
    ...createUserStatements(sc, user),
    passkeyInsert(deps, userId, passkey, "Passkey 1"),
    auditStatement(sc, {
      action: context.kind === "setup" ? "platform.set_up" : "user.sign_up",
      target: { type: "user", id: userId },
      detail: { email, via: context.kind ?? "open" },
    }),
  ];
  if (context.kind === "setup") {
    // Whoever takes the code first wins; a concurrent second set-up finds it gone.
    if (!(await consumeSetupCode(deps))) {
      throw new ServiceError(
        "CONFLICT",
        "This installation is already set up.",
        [],
        "already_set_up",
      );
    }
  } else if (context.kind === "invitation" && context.invitationId !== undefined) {
    const invitation = await findUsableInvitation(deps, { id: context.invitationId });
    statements.push(...acceptInvitationStatements(sc, invitation, userId));
  }
  await commitRegistration(deps, statements);
  return user;
}

function emailTaken(fields: ServiceError["fields"]): ServiceError {
  return new ServiceError(
    "CONFLICT",
    "An account with this email exists; sign in instead.",
    fields,
    "email_taken",
  );
}

/**
 * Commits a new account or passkey. One that lost a race (two sign-ups for one email at once,
 * a credential registered meanwhile) is refused as if it had come second, not a 500.
 */
export async function commitRegistration(deps: Deps, statements: Statement[]): Promise<void> {
  try {
    await commit(deps.db, statements);
  } catch (err) {
    if (failedWith(err, /UNIQUE constraint failed: users\.email/i)) throw emailTaken([]);
    if (failedWith(err, /UNIQUE constraint failed: passkeys\.credential_id/i)) {
      throw new ServiceError(
        "VALIDATION",
        "This passkey is already registered.",
        [],
        "webauthn_failed",
      );
    }
    throw err;
  }
}

export function passkeyInsert(
  deps: Deps,
  userId: string,
  passkey: Awaited<ReturnType<typeof finishRegistration>>["passkey"],
  name: string,
): Statement {
  return deps.db.insert(passkeys).values({
    id: deps.ids.next("passkey"),
    userId,
    name,
    createdAt: deps.clock.now(),
    lastUsedAt: null,
    ...passkey,
  });
}

/**
 * Starts sign-in. With an email, the browser is told that account's credentials; an unknown email
 * gets the same answer as username-less sign-in, so the form does not reveal who has an account.
 */
export async function beginSignIn(
  deps: Deps,
  email: string | undefined,
): Promise<AuthenticationBegin> {
  if (email === undefined) return beginAuthentication(deps, null);
  const user = await findUserByEmail(deps, email);
  if (!user) return beginAuthentication(deps, null);
  const theirs = await deps.db.select().from(passkeys).where(eq(passkeys.userId, user.id));
  return beginAuthentication(deps, { id: user.id, passkeys: theirs });
}

/** Verifies the assertion and returns the account it proves. */
export async function completeSignIn(
  deps: Deps,
  input: { ceremonyId: string; response: AuthenticationResponseJSON },
): Promise<UserRow> {
  const passkey = await finishAuthentication(deps, input.ceremonyId, input.response);
  const user = await findUser(deps, passkey.userId);
  if (!user)
    throw new ServiceError(
      "VALIDATION",
      "This passkey's account no longer exists.",
      [],
      "webauthn_failed",
    );
  return user;
}
