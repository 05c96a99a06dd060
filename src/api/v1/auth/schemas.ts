import { z } from "@hono/zod-openapi";
import type { JSONValue } from "hono/utils/types";

const base64url = z
  .string()
  .min(1)
  .max(65_536)
  .regex(/^[A-Za-z0-9_-]+$/, "must be base64url");
const transports = z.array(
  z.enum(["ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"]),
);

export const Email = z.email().max(254).openapi({ example: "ada@example.com" });
export const DisplayName = z.string().trim().min(1).max(100).openapi({ example: "Ada Lovelace" });

/** What `navigator.credentials.create()` returns, as @simplewebauthn/browser serialises it. */
export const RegistrationCredential = z
  .object({
    id: base64url,
    rawId: base64url,
    type: z.literal("public-key"),
    response: z.looseObject({
      clientDataJSON: base64url,
      attestationObject: base64url,
      transports: transports.optional(),
    }),
    clientExtensionResults: z.looseObject({}),
    authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  })
  .openapi("RegistrationCredential");

/** What `navigator.credentials.get()` returns, serialised. */
export const AuthenticationCredential = z
  .object({
    id: base64url,
    rawId: base64url,
    type: z.literal("public-key"),
    response: z.looseObject({
      clientDataJSON: base64url,
      authenticatorData: base64url,
      signature: base64url,
      userHandle: base64url.optional(),
    }),
    clientExtensionResults: z.looseObject({}),
    authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
  })
  .openapi("AuthenticationCredential");

export const CeremonyStart = z
  .object({
    ceremonyId: z.string().openapi({ description: "Send back with the authenticator's answer." }),
    options: z
      .record(z.string(), z.unknown())
      .openapi({ description: "WebAuthn options for @simplewebauthn/browser" }),
  })
  .openapi("CeremonyStart");

export const CeremonyId = z.string().min(1).max(64);

export const User = z
  .object({
    id: z.string(),
    email: z.string(),
    displayName: z.string(),
    isPlatformAdmin: z.boolean(),
  })
  .openapi("User");

export const SignedIn = z
  .object({
    user: User,
    csrfToken: z.string().openapi({
      description: "Send as X-CSRF-Token on state-changing requests made with the session cookie",
    }),
  })
  .openapi("SignedIn");

export const Passkey = z
  .object({
    id: z.string(),
    name: z.string(),
    deviceType: z.enum(["singleDevice", "multiDevice"]),
    backedUp: z.boolean(),
    createdAt: z.number().int(),
    lastUsedAt: z.number().int().nullable(),
  })
  .openapi("Passkey");

export const Session = z
  .object({
    id: z.string(),
    current: z.boolean(),
    userAgent: z.string(),
    ip: z.string(),
    createdAt: z.number().int(),
    lastSeenAt: z.number().int(),
    expiresAt: z.number().int(),
  })
  .openapi("Session");

export function userJson(u: {
  id: string;
  email: string;
  displayName: string;
  isPlatformAdmin: boolean;
}) {
  return {
    id: u.id,
    email: u.email,
    displayName: u.displayName,
    isPlatformAdmin: u.isPlatformAdmin,
  };
}

/** WebAuthn options as plain JSON (drops `undefined` members, which JSON cannot carry). */
export function jsonObject(value: object): Record<string, JSONValue> {
  return JSON.parse(JSON.stringify(value)) as Record<string, JSONValue>;
}
