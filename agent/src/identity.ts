import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importPKCS8,
  SignJWT,
} from "jose";
import {
  AGENT_ASSERTION_TYP,
  assertionAudience,
  ENROLL_PROOF_TYP,
  KEY_ROTATION_PROOF_TYP,
} from "../../src/protocol/agent-api";
import { type PublicJwk, publicJwkSchema } from "../../src/protocol/trust";

/** The agent's own Ed25519 key: the private half never leaves the host. */
export type AgentKey = { privateKey: CryptoKey; publicJwk: PublicJwk; thumbprint: string };

export async function generateAgentKey(): Promise<{ key: AgentKey; pem: string }> {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const pem = await exportPKCS8(privateKey);
  return { key: await agentKeyFromPem(pem), pem };
}

export async function agentKeyFromPem(pem: string): Promise<AgentKey> {
  const privateKey = await importPKCS8(pem, "EdDSA", { extractable: true });
  const { d: _d, ...pub } = await exportJWK(privateKey);
  const publicJwk = publicJwkSchema.parse({ kty: pub.kty, crv: pub.crv, x: pub.x });
  return { privateKey, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk, "sha256") };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function randomId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Proof of possession at enrollment: binds the enrollment token (by hash) to this key. */
export async function enrollmentProof(
  key: AgentKey,
  token: string,
  nowMs: number,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ tok: await sha256Hex(token), jkt: key.thumbprint })
    .setProtectedHeader({ alg: "EdDSA", typ: ENROLL_PROOF_TYP })
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .setJti(randomId())
    .sign(key.privateKey);
}

/** RFC 7523 JWT-bearer assertion for the token endpoint (`iss = sub = host id`, 60 s). */
export async function tokenAssertion(
  key: AgentKey,
  hostId: string,
  issuer: string,
  nowMs: number,
  jti = randomId(),
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", typ: AGENT_ASSERTION_TYP })
    .setIssuer(hostId)
    .setSubject(hostId)
    .setAudience(assertionAudience(issuer))
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .setJti(jti)
    .sign(key.privateKey);
}

/** Proof by the new key for `POST /keys`: bound to the host, the new key and the key it replaces. */
export async function keyRotationProof(
  next: AgentKey,
  hostId: string,
  current: AgentKey,
  nowMs: number,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ jkt: next.thumbprint, prev: current.thumbprint })
    .setProtectedHeader({ alg: "EdDSA", typ: KEY_ROTATION_PROOF_TYP })
    .setSubject(hostId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .setJti(randomId())
    .sign(next.privateKey);
}
