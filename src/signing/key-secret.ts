import { type CryptoKey, calculateJwkThumbprint, exportJWK, importJWK, importPKCS8 } from "jose";
import { type PublicJwk, publicJwkSchema } from "../protocol/trust";
import { SigningKeyError } from "./signer";

/** A CP signing key parsed from a secret string. */
export type LoadedKey = {
  kid: string;
  publicJwk: PublicJwk;
  /** Absent when the secret held only the public half (a retired key kept for verification). */
  privateKey?: CryptoKey;
};

/**
 * Parses a key secret as a Worker secret would hold it: a PKCS8 PEM or a JWK JSON string (RFC
 * 8037, OKP/Ed25519). Anything else fails with a message that names the problem but not the key.
 */
export async function loadKeySecret(secret: string, label: string): Promise<LoadedKey> {
  const text = secret.trim();
  if (text.startsWith("-----BEGIN PRIVATE KEY-----")) return fromPem(text, label);
  if (text.startsWith("{")) return fromJwk(text, label);
  throw new SigningKeyError(`${label}: expected a PKCS8 PEM or an Ed25519 JWK JSON string`);
}

async function fromPem(pem: string, label: string): Promise<LoadedKey> {
  let privateKey: CryptoKey;
  try {
    privateKey = await importPKCS8(pem, "EdDSA", { extractable: true });
  } catch {
    throw new SigningKeyError(`${label}: PEM is not a valid PKCS8 Ed25519 private key`);
  }
  const { d: _d, ...pub } = await exportJWK(privateKey);
  return { ...(await describe(pub, label)), privateKey };
}

async function fromJwk(json: string, label: string): Promise<LoadedKey> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new SigningKeyError(`${label}: JWK secret is not valid JSON`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SigningKeyError(`${label}: JWK secret must be a JSON object`);
  }
  const { d, kty, crv, x } = raw as Record<string, unknown>;
  const loaded = await describe({ kty, crv, x }, label);
  if (d === undefined) return loaded;
  if (typeof d !== "string") throw new SigningKeyError(`${label}: JWK "d" must be a string`);
  try {
    const key = await importJWK({ kty: "OKP", crv: "Ed25519", x: loaded.publicJwk.x, d }, "EdDSA");
    if (key instanceof Uint8Array) throw new Error("symmetric key");
    return { ...loaded, privateKey: key };
  } catch {
    throw new SigningKeyError(`${label}: JWK is not a valid Ed25519 private key`);
  }
}

async function describe(pub: unknown, label: string): Promise<LoadedKey> {
  const parsed = publicJwkSchema.safeParse(pub);
  if (!parsed.success) throw new SigningKeyError(`${label}: key is not an Ed25519 (OKP) key`);
  return { kid: await calculateJwkThumbprint(parsed.data, "sha256"), publicJwk: parsed.data };
}
