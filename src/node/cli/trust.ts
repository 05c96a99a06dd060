/**
 * `strato trust root-key [--out FILE]` and `strato trust sign --root-key FILE --version N
 * --key FILE[@NOT_AFTER]… [--revoke KID]…`: the offline half of design §2.2. The root key is made
 * and used on an operator's machine; only the signed bundle (STRATO_TRUST_BUNDLE) goes online.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { WORK_ITEM_ALG } from "../../protocol/limits";
import { publicJwkSchema, type TrustDocument, type TrustKey } from "../../protocol/trust";
import { loadKeySecret } from "../../signing/key-secret";
import { SigningKeyError } from "../../signing/signer";
import { signTrustBundle } from "../../signing/trust-bundle";

const USAGE = `usage:
  strato trust root-key [--out FILE]
      a new Ed25519 trust root: with --out, the private JWK goes to FILE (0600) and the public JWK
      to stdout; without, both as {"kid", "private_jwk", "public_jwk"}
  strato trust sign --root-key FILE --version N --key FILE[@NOT_AFTER]... [--revoke KID]...
      the trust bundle (a compact JWS) for STRATO_TRUST_BUNDLE: each --key is a signing key's
      public JWK (or PEM/private JWK, only its public half is used), valid until NOT_AFTER (epoch
      seconds or an ISO date; default 2100-01-01)`;

/** 2100-01-01, the window the control plane gives its own active key. */
const FOREVER_S = 4_102_444_800;

class UsageError extends Error {}

export async function trustCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "root-key") return await rootKey(rest);
    if (command === "sign") return await sign(rest);
    throw new UsageError(command === undefined ? "no trust command given" : `unknown ${command}`);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && "code" in error)) {
      console.error(`${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof SigningKeyError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
}

async function rootKey(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string" } }, strict: true });
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = publicJwkSchema.parse({
    kty: privateJwk.kty,
    crv: privateJwk.crv,
    x: privateJwk.x,
  });
  if (values.out === undefined) {
    const kid = await calculateJwkThumbprint(publicJwk, "sha256");
    console.log(JSON.stringify({ kid, private_jwk: privateJwk, public_jwk: publicJwk }, null, 2));
    return 0;
  }
  if (existsSync(values.out)) throw new UsageError(`${values.out} exists; not overwriting a key`);
  writeFileSync(values.out, `${JSON.stringify(privateJwk)}\n`, { mode: 0o600, flag: "wx" });
  console.log(JSON.stringify(publicJwk));
  return 0;
}

async function sign(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "root-key": { type: "string" },
      version: { type: "string" },
      key: { type: "string", multiple: true },
      revoke: { type: "string", multiple: true },
    },
    strict: true,
  });
  const rootFile = values["root-key"];
  if (rootFile === undefined) throw new UsageError("--root-key FILE is required");
  const version = Number(values.version);
  if (!Number.isInteger(version) || version < 1) {
    throw new UsageError("--version N is required (a positive integer; raise it with each bundle)");
  }
  const root = await loadKeySecret(readFileSync(rootFile, "utf8"), "root key");
  if (root.privateKey === undefined)
    throw new SigningKeyError("root key: file holds no private key");
  const keys = await Promise.all((values.key ?? []).map((spec) => listedKey(spec, root.kid)));
  if (keys.length === 0) throw new UsageError("at least one --key is required");
  const document: TrustDocument = { version, keys, revoked_kids: values.revoke ?? [] };
  const nowS = Math.floor(Date.now() / 1000);
  console.log(
    await signTrustBundle(
      document,
      { privateKey: root.privateKey, publicJwk: root.publicJwk },
      nowS,
    ),
  );
  return 0;
}

async function listedKey(spec: string, rootKid: string): Promise<TrustKey> {
  const at = spec.lastIndexOf("@");
  const file = at > 0 ? spec.slice(0, at) : spec;
  const notAfter = at > 0 ? epochSeconds(spec.slice(at + 1)) : FOREVER_S;
  const key = await loadKeySecret(readFileSync(file, "utf8"), `key ${file}`);
  if (key.kid === rootKid) throw new UsageError(`${file} is the root key; list signing keys only`);
  return {
    kid: key.kid,
    alg: WORK_ITEM_ALG,
    jwk: key.publicJwk,
    not_before: 0,
    not_after: notAfter,
  };
}

function epochSeconds(text: string): number {
  const seconds = /^\d+$/.test(text) ? Number(text) : Math.floor(Date.parse(text) / 1000);
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new UsageError(`NOT_AFTER ${text}: expected epoch seconds or an ISO date`);
  }
  return seconds;
}
