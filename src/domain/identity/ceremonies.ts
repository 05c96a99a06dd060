import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { eq } from "drizzle-orm";
import { passkeys, webauthnChallenges } from "../../db/schema";
import type { Deps } from "../../deps";
import { base64url } from "../../lib/secrets";
import { ServiceError } from "../errors";

/**
 * The WebAuthn ceremonies, around @simplewebauthn/server. Challenges are stored server-side,
 * expire after five minutes and are deleted when used (even by a failed attempt), so each works
 * once. Origin and RP ID come from configuration; user verification is required.
 */

export const CHALLENGE_TTL_MS = 5 * 60_000;

export type ChallengeRow = typeof webauthnChallenges.$inferSelect;
export type PasskeyRow = typeof passkeys.$inferSelect;
type Purpose = ChallengeRow["purpose"];

function failed(
  message: string,
  reason: "webauthn_failed" | "challenge_invalid" = "webauthn_failed",
): ServiceError {
  return new ServiceError("VALIDATION", message, [], reason);
}

async function storeChallenge(
  deps: Deps,
  challenge: string,
  purpose: Purpose,
  userId: string | null,
  context: Record<string, string>,
): Promise<string> {
  const now = deps.clock.now();
  const id = deps.ids.next("challenge");
  await deps.db.insert(webauthnChallenges).values({
    id,
    challenge,
    purpose,
    userId,
    context,
    createdAt: now,
    expiresAt: now + CHALLENGE_TTL_MS,
  });
  return id;
}

/** Takes a challenge out of the store: it can never be used again, whatever happens next. */
async function consumeChallenge(
  deps: Deps,
  ceremonyId: string,
  purpose: Purpose,
): Promise<ChallengeRow> {
  const [row] = await deps.db
    .delete(webauthnChallenges)
    .where(eq(webauthnChallenges.id, ceremonyId))
    .returning();
  if (!row || row.purpose !== purpose || deps.clock.now() >= row.expiresAt) {
    throw failed(
      "This passkey request expired or was already used; start again.",
      "challenge_invalid",
    );
  }
  return row;
}

export type RegistrationBegin = {
  ceremonyId: string;
  options: PublicKeyCredentialCreationOptionsJSON;
};

/** Options for `navigator.credentials.create()`: a discoverable credential bound to `user`. */
export async function beginRegistration(
  deps: Deps,
  input: {
    purpose: "register" | "add_passkey";
    user: { id: string; email: string; displayName: string };
    existing: readonly PasskeyRow[];
    context: Record<string, string>;
  },
): Promise<RegistrationBegin> {
  const { rpId, rpName } = deps.config.webauthn;
  const options = await generateRegistrationOptions({
    rpName,
    rpID: rpId,
    userName: input.user.email,
    userDisplayName: input.user.displayName,
    userID: new Uint8Array(new TextEncoder().encode(input.user.id)),
    challenge: new Uint8Array(deps.random.bytes(32)),
    attestationType: "none",
    // Registering the same authenticator twice for one account would only confuse people.
    excludeCredentials: input.existing.map((p) => ({
      id: p.credentialId,
      transports: p.transports,
    })),
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
  });
  const ceremonyId = await storeChallenge(deps, options.challenge, input.purpose, input.user.id, {
    ...input.context,
    email: input.user.email,
    displayName: input.user.displayName,
  });
  return { ceremonyId, options };
}

export type NewPasskey = Omit<PasskeyRow, "id" | "userId" | "name" | "createdAt" | "lastUsedAt">;

/** Verifies the authenticator's answer; returns the stored challenge (who, why) and the credential. */
export async function finishRegistration(
  deps: Deps,
  ceremonyId: string,
  purpose: "register" | "add_passkey",
  response: RegistrationResponseJSON,
): Promise<{ challenge: ChallengeRow; passkey: NewPasskey }> {
  const challenge = await consumeChallenge(deps, ceremonyId, purpose);
  const { origin, rpId } = deps.config.webauthn;
  let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verification = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: origin,
      expectedRPID: rpId,
      requireUserVerification: true,
    });
  } catch (err) {
    throw failed(`The passkey could not be registered: ${messageOf(err)}`);
  }
  if (!verification.verified) throw failed("The passkey could not be registered.");
  const info = verification.registrationInfo;
  return {
    challenge,
    passkey: {
      credentialId: info.credential.id,
      publicKey: base64url(info.credential.publicKey),
      signCount: info.credential.counter,
      transports: info.credential.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
    },
  };
}

export type AuthenticationBegin = {
  ceremonyId: string;
  options: PublicKeyCredentialRequestOptionsJSON;
};

/**
 * Options for `navigator.credentials.get()`. With a user (email-first sign-in) the browser is told
 * which credentials to use; without one (username-less) the authenticator offers its passkeys.
 */
export async function beginAuthentication(
  deps: Deps,
  user: { id: string; passkeys: readonly PasskeyRow[] } | null,
): Promise<AuthenticationBegin> {
  const options = await generateAuthenticationOptions({
    rpID: deps.config.webauthn.rpId,
    challenge: new Uint8Array(deps.random.bytes(32)),
    userVerification: "required",
    allowCredentials: (user?.passkeys ?? []).map((p) => ({
      id: p.credentialId,
      transports: p.transports,
    })),
  });
  const ceremonyId = await storeChallenge(
    deps,
    options.challenge,
    "authenticate",
    user?.id ?? null,
    {},
  );
  return { ceremonyId, options };
}

/** Verifies an assertion and records the new sign counter and backup state. Returns the passkey. */
export async function finishAuthentication(
  deps: Deps,
  ceremonyId: string,
  response: AuthenticationResponseJSON,
): Promise<PasskeyRow> {
  const challenge = await consumeChallenge(deps, ceremonyId, "authenticate");
  const [passkey] = await deps.db
    .select()
    .from(passkeys)
    .where(eq(passkeys.credentialId, response.id))
    .limit(1);
  if (!passkey) throw failed("This passkey is not registered here.");
  if (challenge.userId !== null && challenge.userId !== passkey.userId) {
    throw failed("This passkey belongs to another account.");
  }
  const { origin, rpId } = deps.config.webauthn;
  let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: origin,
      expectedRPID: rpId,
      requireUserVerification: true,
      credential: {
        id: passkey.credentialId,
        publicKey: fromBase64url(passkey.publicKey),
        counter: passkey.signCount,
        transports: passkey.transports,
      },
    });
  } catch (err) {
    throw failed(`The passkey could not be verified: ${messageOf(err)}`);
  }
  if (!verification.verified) throw failed("The passkey could not be verified.");
  const info = verification.authenticationInfo;
  const updated = {
    signCount: info.newCounter,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    lastUsedAt: deps.clock.now(),
  };
  await deps.db.update(passkeys).set(updated).where(eq(passkeys.id, passkey.id));
  return { ...passkey, ...updated };
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
