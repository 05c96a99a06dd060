import { existsSync, readFileSync } from "node:fs";
import { calculateJwkThumbprint } from "jose";
import { type PublicJwk, publicJwkSchema } from "../../src/protocol/trust";

/** The trust root named by the `trust_root` setting is unusable. */
export class TrustRootError extends Error {
  override readonly name = "TrustRootError";
}

/**
 * The `trust_root` setting: the root's public JWK as JSON, or the path of a file holding it.
 * Private members (`d`) are refused: the root's private key never belongs on a host.
 */
export function readTrustRoot(setting: string): PublicJwk {
  const text = setting.trim();
  let json = text;
  if (!text.startsWith("{")) {
    if (!existsSync(text)) throw new TrustRootError(`trust_root: no such file ${text}`);
    json = readFileSync(text, "utf8");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new TrustRootError("trust_root: not a JSON public JWK (or a file holding one)");
  }
  const parsed = publicJwkSchema.safeParse(raw);
  if (!parsed.success) {
    throw new TrustRootError(
      "trust_root: expected an Ed25519 public JWK {kty:OKP, crv:Ed25519, x} without private members",
    );
  }
  return parsed.data;
}

/** RFC 7638 thumbprint: how logs and messages name a root. */
export function rootKid(root: PublicJwk): Promise<string> {
  return calculateJwkThumbprint(root, "sha256");
}

export function sameRoot(a: PublicJwk, b: PublicJwk): boolean {
  return a.kty === b.kty && a.crv === b.crv && a.x === b.x;
}
