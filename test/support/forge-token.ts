import {
  base64url,
  CompactSign,
  type CryptoKey,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  type JWTPayload,
} from "jose";

/**
 * Ways a man in the middle (or a confused signer) can change a compact JWS work item, for the
 * tampering tests. Each takes the token the control plane really issued.
 */

const text = (s: string) => base64url.encode(new TextEncoder().encode(s));

function segments(token: string): [string, string, string] {
  const [header = "", payload = "", signature = ""] = token.split(".");
  return [header, payload, signature];
}

/** One bit flipped in the middle of the payload or the signature. */
export function flipBit(token: string, where: "payload" | "signature"): string {
  const parts = segments(token);
  const index = where === "payload" ? 1 : 2;
  const bytes = base64url.decode(parts[index]);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0x04;
  parts[index] = base64url.encode(bytes);
  return parts.join(".");
}

/** The same claims under `alg: none` with an empty signature. */
export function algNone(token: string): string {
  const header = { ...decodeProtectedHeader(token), alg: "none" };
  return `${text(JSON.stringify(header))}.${segments(token)[1]}.`;
}

/** Signs `payload` (claims or any document) under `header` with `key` (raw bytes for HMAC). */
export async function sign(
  header: Record<string, unknown>,
  payload: unknown,
  key: CryptoKey | Uint8Array,
): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  return new CompactSign(bytes)
    .setProtectedHeader(header as { alg: string })
    .sign(key as Parameters<CompactSign["sign"]>[0]);
}

/** The same claims re-signed by `key`, with header fields and claims changed. */
export async function resign(
  token: string,
  key: CryptoKey | Uint8Array,
  changes: {
    header?: Record<string, unknown>;
    claims?: Partial<JWTPayload> & Record<string, unknown>;
  },
): Promise<string> {
  const header = { ...decodeProtectedHeader(token), ...changes.header };
  return sign(header, { ...decodeJwt(token), ...changes.claims }, key);
}

/** HS256 keyed with the public key's bytes (RFC 8725 §2.1 key confusion). */
export function hs256WithPublicKey(token: string, publicJwk: { x?: string }): Promise<string> {
  return resign(token, base64url.decode(publicJwk.x ?? ""), { header: { alg: "HS256" } });
}

/** ES256 by a P-256 key under the real key's `kid`: a key of the wrong type. */
export async function es256(token: string): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256");
  return resign(token, privateKey, { header: { alg: "ES256" } });
}
