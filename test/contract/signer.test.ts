import { calculateJwkThumbprint, decodeProtectedHeader, SignJWT } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { verifyTrustBundle } from "../../agent/src/trust-bundle";
import { verifyWorkItem } from "../../agent/src/verify";
import { MAX_TOKEN_BYTES, TRUST_TYP, WORK_ITEM_TYP } from "../../src/protocol/limits";
import type { WorkItemClaims } from "../../src/protocol/work-item";
import { createLocalSigner } from "../../src/signing/local";
import { type Signer, SigningKeyError, TrustNotReadyError } from "../../src/signing/signer";
import { signTrustBundle } from "../../src/signing/trust-bundle";
import {
  generateSigningKey,
  T0,
  TEST_HOST,
  type TestSigningKey,
  verifyContext,
  workClaims,
} from "../support/signing";

const DAY = 86_400;

/** Every Signer implementation; the separate signer Worker joins this list when it exists. */
const SIGNERS: Record<string, (key: TestSigningKey, root: TestSigningKey) => Promise<Signer>> = {
  "local signer (PKCS8 PEM secret)": (key, root) =>
    createLocalSigner({
      active: { secret: key.pem, notBefore: T0 - DAY, notAfter: T0 + 90 * DAY },
      trustVersion: 1,
      trust: { rootKey: root.pem },
    }),
  "local signer (JWK secret)": (key, root) =>
    createLocalSigner({
      active: { secret: key.jwk, notBefore: T0 - DAY, notAfter: T0 + 90 * DAY },
      trustVersion: 1,
      trust: { rootKey: root.jwk },
    }),
  "local signer (trust bundle signed offline)": async (key, root) =>
    createLocalSigner({
      active: { secret: key.pem, notBefore: 0, notAfter: 0 },
      trustVersion: 0,
      trust: { bundle: await offlineBundle(root, [key]) },
    }),
};

/** What `strato trust sign` makes: a bundle listing `keys`, signed by `root`. */
async function offlineBundle(root: TestSigningKey, keys: TestSigningKey[], version = 1) {
  const listed = await Promise.all(
    keys.map(async (k) => ({
      kid: await calculateJwkThumbprint(JSON.parse(k.publicJwk), "sha256"),
      alg: "EdDSA" as const,
      jwk: JSON.parse(k.publicJwk),
      not_before: T0 - DAY,
      not_after: T0 + 90 * DAY,
    })),
  );
  return signTrustBundle(
    { version, keys: listed, revoked_kids: [] },
    { privateKey: root.privateKey, publicJwk: JSON.parse(root.publicJwk) },
    T0,
  );
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const parts = (token: string) => token.split(".") as [string, string, string];

/** Replace one character in the middle of a segment with another base64url character. */
function flip(segment: string): string {
  const i = Math.floor(segment.length / 2);
  return segment.slice(0, i) + (segment[i] === "A" ? "B" : "A") + segment.slice(i + 1);
}

describe.each(Object.entries(SIGNERS))("%s", (_name, make) => {
  let key: TestSigningKey;
  let root: TestSigningKey;
  let signer: Signer;
  let setup: ReturnType<typeof verifyContext>;

  beforeEach(async () => {
    key = await generateSigningKey();
    root = await generateSigningKey();
    signer = await make(key, root);
    setup = verifyContext(signer.trustDocument());
  });

  it("serves a trust bundle that verifies under its root and carries its trust document", async () => {
    expect(signer.trustRoot).toEqual(JSON.parse(root.publicJwk));
    const bundle = signer.trustBundle();
    expect(decodeProtectedHeader(bundle)).toEqual({
      alg: "EdDSA",
      typ: TRUST_TYP,
      kid: await calculateJwkThumbprint(signer.trustRoot, "sha256"),
    });
    const checked = await verifyTrustBundle(bundle, signer.trustRoot);
    expect(checked).toMatchObject({ ok: true, payload: signer.trustDocument() });
    expect(signer.trustDocument().keys.map((k) => k.kid)).toContain(signer.keyId);
  });

  it("its trust bundle is refused under another root, and when altered", async () => {
    const stranger = JSON.parse((await generateSigningKey()).publicJwk);
    expect(await verifyTrustBundle(signer.trustBundle(), stranger)).toEqual({
      ok: false,
      problem: "bad_signature",
    });
    const [h, p, sig] = parts(signer.trustBundle());
    const payload = JSON.parse(Buffer.from(p, "base64url").toString());
    const grown = b64({ ...payload, version: payload.version + 1 });
    expect(await verifyTrustBundle(`${h}.${grown}.${sig}`, signer.trustRoot)).toMatchObject({
      ok: false,
      problem: "bad_signature",
    });
    // A document signed by the signing key (not the root) is no trust bundle.
    const bySigningKey = await new SignJWT(payload)
      .setProtectedHeader({ alg: "EdDSA", typ: TRUST_TYP })
      .sign(key.privateKey);
    expect(await verifyTrustBundle(bySigningKey, signer.trustRoot)).toMatchObject({
      problem: "bad_signature",
    });
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    expect(
      await verifyTrustBundle(`${b64({ ...header, alg: "none" })}.${p}.`, signer.trustRoot),
    ).toMatchObject({ problem: "alg" });
    expect(
      await verifyTrustBundle(
        `${b64({ ...header, typ: WORK_ITEM_TYP })}.${p}.${sig}`,
        signer.trustRoot,
      ),
    ).toMatchObject({ problem: "typ" });
    expect(
      await verifyTrustBundle(
        `${b64({ ...header, jku: "https://evil.test" })}.${p}.${sig}`,
        signer.trustRoot,
      ),
    ).toMatchObject({ problem: "bad_header" });
    expect(await verifyTrustBundle("not-a-jws", signer.trustRoot)).toMatchObject({
      problem: "malformed",
    });
  });

  /** Signs arbitrary claims and headers with this signer's key, bypassing its checks. */
  const forge = (claims: object, header: Record<string, unknown> = {}) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "EdDSA", typ: WORK_ITEM_TYP, kid: signer.keyId, ...header })
      .sign(key.privateKey);
  const verify = (token: string) => verifyWorkItem(token, setup.ctx);
  const expectReason = async (token: string, reason: string) =>
    expect(await verify(token)).toMatchObject({ ok: false, reason });

  it("its output passes the agent verifier", async () => {
    const token = await signer.sign(workClaims());
    const [header] = parts(token);
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({
      alg: "EdDSA",
      typ: WORK_ITEM_TYP,
      kid: signer.keyId,
    });
    const result = await verify(token);
    expect(result).toMatchObject({ ok: true, kid: signer.keyId, item: workClaims() });
  });

  it("refuses claims that fail the schema before signing", async () => {
    await expect(signer.sign(workClaims({ exp: T0 + 3600 }))).rejects.toThrow(/accept window/);
    const huge = workClaims({ params: { blob: "x".repeat(MAX_TOKEN_BYTES) } });
    await expect(signer.sign(huge)).rejects.toThrow(RangeError);
  });

  it("rejects tampered signatures and payloads as bad_signature (security)", async () => {
    const [h, p, s] = parts(await signer.sign(workClaims()));
    expect(await verify(`${h}.${flip(p)}.${s}`)).toEqual({
      ok: false,
      reason: "bad_signature",
      retry: false,
      security: true,
    });
    await expectReason(`${h}.${p}.${flip(s)}`, "bad_signature");
    const other = await generateSigningKey();
    const wrongKey = await new SignJWT({ ...workClaims() })
      .setProtectedHeader({ alg: "EdDSA", typ: WORK_ITEM_TYP, kid: signer.keyId })
      .sign(other.privateKey);
    await expectReason(wrongKey, "bad_signature");
  });

  it("rejects algorithm confusion as alg and key hints as bad_header", async () => {
    const [h, p, s] = parts(await signer.sign(workClaims()));
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    await expectReason(`${b64({ ...header, alg: "HS256" })}.${p}.${s}`, "alg");
    await expectReason(`${b64({ ...header, alg: "none" })}.${p}.`, "alg");
    // HMAC keyed with the public key text: the classic confusion attack (RFC 8725 §2.1).
    const hmac = await new SignJWT({ ...workClaims() })
      .setProtectedHeader({ alg: "HS256", typ: WORK_ITEM_TYP, kid: signer.keyId })
      .sign(new TextEncoder().encode(key.publicJwk));
    await expectReason(hmac, "alg");
    await expectReason(await forge(workClaims(), { jku: "https://evil.test/keys" }), "bad_header");
  });

  it("rejects other document types, unknown and revoked kids", async () => {
    await expectReason(await forge(workClaims(), { typ: TRUST_TYP }), "typ");
    await expectReason(await forge(workClaims(), { kid: "nope" }), "unknown_kid");
    setup.ctx.trust = { ...setup.ctx.trust, revoked_kids: [signer.keyId] };
    await expectReason(await signer.sign(workClaims()), "revoked_kid");
  });

  it("rejects the wrong audience and issuer", async () => {
    await expectReason(await signer.sign(workClaims({ aud: "host_other" })), "wrong_audience");
    await expectReason(
      await forge({ ...workClaims(), aud: [TEST_HOST, "host_b"] }),
      "wrong_audience",
    );
    await expectReason(await signer.sign(workClaims({ iss: "https://evil.test" })), "wrong_issuer");
  });

  it("applies the accept window with the 30 s skew tolerance", async () => {
    const token = await signer.sign(workClaims());
    setup.clock.set(T0 + 300 + 31);
    expect(await verify(token)).toEqual({
      ok: false,
      reason: "expired",
      retry: true,
      security: false,
    });
    setup.clock.set(T0 + 300 + 29);
    expect(await verify(token)).toMatchObject({ ok: true });
    const future = await signer.sign(workClaims({}, T0 + 120));
    setup.clock.set(T0);
    await expectReason(future, "not_yet_valid");
  });

  it("rejects a replayed token, and a re-issue of an item already done", async () => {
    const token = await signer.sign(workClaims());
    expect(await verify(token)).toMatchObject({ ok: true });
    await expectReason(token, "replay");
    setup.state.markDone(workClaims().idem, workClaims().sub);
    await expectReason(await signer.sign(workClaims({ jti: "reissue-2" })), "already_done");
  });

  it("rejects stale generations, out-of-order seq and missed deadlines", async () => {
    setup.state.markApplied(workClaims().resource.uid, 3);
    await expectReason(await signer.sign(workClaims({ gen: 3 })), "superseded");
    expect(await verify(await signer.sign(workClaims({ gen: 4 })))).toMatchObject({ ok: true });
    setup.ctx.claim = { ...setup.ctx.claim, cursor: 10 };
    await expectReason(await signer.sign(workClaims({ seq: 10, jti: "j2" })), "out_of_order");
    setup.ctx.claim = { ...setup.ctx.claim, cursor: 0 };
    setup.clock.set(T0 + 100);
    await expectReason(
      await signer.sign(workClaims({ gen: 9, start_by: T0 + 60, jti: "j3" })),
      "deadline",
    );
    // Past its start_by but begun here already (a new lease after the agent was down): resumed.
    setup.state.markStarted(workClaims().idem);
    expect(
      await verify(await signer.sign(workClaims({ gen: 9, start_by: T0 + 60, jti: "j4" }))),
    ).toMatchObject({ ok: true });
  });

  it("holds items whose dependencies are unfinished, then accepts the same token", async () => {
    const dep = "wi_01jd7x0000eeeeeeeeeeeeeeee";
    const token = await signer.sign(workClaims({ after: [dep] }));
    expect(await verify(token)).toEqual({
      ok: false,
      reason: "blocked",
      retry: true,
      security: false,
    });
    setup.state.markDone("dep-idem", dep);
    expect(await verify(token)).toMatchObject({ ok: true });
  });

  it("binds the item to its claim response", async () => {
    setup.ctx.claim = { cursor: 0, trustVersion: 1, leaseEpoch: 2, itemId: workClaims().sub };
    await expectReason(await signer.sign(workClaims({ lease_epoch: 1 })), "stale_epoch");
    setup.ctx.claim = { ...setup.ctx.claim, itemId: "wi_01jd7x0000ffffffffffffffff" };
    await expectReason(await signer.sign(workClaims({ lease_epoch: 2 })), "wrong_item");
    setup.ctx.claim = { cursor: 0, trustVersion: 2 };
    await expectReason(await signer.sign(workClaims()), "stale_trust");
  });

  it("rejects oversized and malformed tokens and unexpected claims as schema", async () => {
    const claims: WorkItemClaims = workClaims({ params: { blob: "x".repeat(MAX_TOKEN_BYTES) } });
    await expectReason(await forge(claims), "schema");
    await expectReason("a.b", "schema");
    await expectReason(await forge({ ...workClaims(), admin: true }), "schema");
    const { jti: _jti, ...noJti } = workClaims();
    await expectReason(await forge(noJti), "schema");
  });
});

describe("local signer with a trust bundle signed offline", () => {
  it("refuses a bundle that does not list the active key, or revokes it, as not ready", async () => {
    const [key, other, root] = [
      await generateSigningKey(),
      await generateSigningKey(),
      await generateSigningKey(),
    ];
    const make = (bundle: string) =>
      createLocalSigner({
        active: { secret: key.pem, notBefore: 0, notAfter: 0 },
        trustVersion: 0,
        trust: { bundle },
      });
    await expect(make(await offlineBundle(root, [other]))).rejects.toThrow(TrustNotReadyError);
    await expect(make(await offlineBundle(root, [other]))).rejects.toThrow(
      /does not list the active signing key/,
    );
    const kid = await calculateJwkThumbprint(JSON.parse(key.publicJwk), "sha256");
    const [h, p] = parts(await offlineBundle(root, [key]));
    const revoked = await new SignJWT({
      ...JSON.parse(Buffer.from(p, "base64url").toString()),
      revoked_kids: [kid],
    })
      .setProtectedHeader(JSON.parse(Buffer.from(h, "base64url").toString()))
      .sign(root.privateKey);
    await expect(make(revoked)).rejects.toThrow(TrustNotReadyError);
  });

  it("refuses a bundle that is not intact as a key error", async () => {
    const [key, root] = [await generateSigningKey(), await generateSigningKey()];
    const [h, p, s] = parts(await offlineBundle(root, [key]));
    const attempt = createLocalSigner({
      active: { secret: key.pem, notBefore: 0, notAfter: 0 },
      trustVersion: 0,
      trust: { bundle: `${h}.${flip(p)}.${s}` },
    });
    await expect(attempt).rejects.toThrow(SigningKeyError);
    await expect(attempt).rejects.not.toThrow(TrustNotReadyError);
    await expect(
      createLocalSigner({
        active: { secret: key.pem, notBefore: 0, notAfter: 0 },
        trustVersion: 0,
        trust: { bundle: "garbage" },
      }),
    ).rejects.toThrow(/trust bundle: not a compact JWS/);
  });

  it("refuses a trust root that is the signing key, or holds no private key", async () => {
    const key = await generateSigningKey();
    const make = (rootKey: string) =>
      createLocalSigner({
        active: { secret: key.pem, notBefore: T0, notAfter: T0 + DAY },
        trustVersion: 1,
        trust: { rootKey },
      });
    await expect(make(key.jwk)).rejects.toThrow(/must not be the signing key/);
    const selfSigned = createLocalSigner({
      active: { secret: key.pem, notBefore: 0, notAfter: 0 },
      trustVersion: 0,
      trust: { bundle: await offlineBundle(key, [key]) },
    });
    await expect(selfSigned).rejects.toThrow(/signed by the signing key/);
    await expect(make((await generateSigningKey()).publicJwk)).rejects.toThrow(/no private key/);
  });
});
