import { calculateJwkThumbprint, exportPKCS8, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { verifyWorkItem } from "../../agent/src/verify";
import { createLocalSigner } from "../../src/signing/local";
import { SigningKeyError } from "../../src/signing/signer";
import { generateSigningKey, T0, testClock, verifyContext, workClaims } from "../support/signing";

const DAY = 86_400;
/** One trust root for every signer here: rotation never changes it. */
const ROOT = { rootKey: (await generateSigningKey()).jwk };

describe("local signer key secrets", () => {
  it("loads the same key from a PEM and a JWK secret, with an RFC 7638 kid", async () => {
    const key = await generateSigningKey();
    const window = { notBefore: T0, notAfter: T0 + DAY };
    const fromPem = await createLocalSigner({
      active: { secret: key.pem, ...window },
      trustVersion: 1,
      trust: ROOT,
    });
    const fromJwk = await createLocalSigner({
      active: { secret: key.jwk, ...window },
      trustVersion: 1,
      trust: ROOT,
    });
    const { d: _d, ...pub } = JSON.parse(key.jwk);
    expect(fromPem.keyId).toBe(await calculateJwkThumbprint(pub, "sha256"));
    expect(fromJwk.keyId).toBe(fromPem.keyId);
    expect(fromPem.trustRoot).toEqual(fromJwk.trustRoot);
    expect(fromPem.trustDocument()).toEqual({
      version: 1,
      keys: [{ kid: fromPem.keyId, alg: "EdDSA", jwk: pub, not_before: T0, not_after: T0 + DAY }],
      revoked_kids: [],
    });
  });

  it("refuses malformed secrets with a clear error that does not echo the secret", async () => {
    const key = await generateSigningKey();
    const other = await generateSigningKey();
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const cases: [string, RegExp][] = [
      ["", /expected a PKCS8 PEM or an Ed25519 JWK/],
      ["hunter2-not-a-key", /expected a PKCS8 PEM or an Ed25519 JWK/],
      ["{not json", /not valid JSON/],
      ['{"kty":"RSA","n":"x","e":"AQAB"}', /not an Ed25519 \(OKP\) key/],
      [key.pem.replace(/\n(.{20}).*\n/, "\n$1\n"), /not a valid PKCS8 Ed25519/],
      [await exportPKCS8(rsa.privateKey), /not a valid PKCS8 Ed25519/],
      [key.publicJwk, /holds no private key/],
      [JSON.stringify({ ...JSON.parse(key.jwk), d: 5 }), /"d" must be a string/],
      // Public half of one key with the private half of another.
      [
        JSON.stringify({ ...JSON.parse(key.jwk), d: JSON.parse(other.jwk).d }),
        /not a valid Ed25519/,
      ],
    ];
    for (const [secret, message] of cases) {
      const attempt = createLocalSigner({
        active: { secret, notBefore: T0, notAfter: T0 + DAY },
        trustVersion: 1,
        trust: ROOT,
      });
      await expect(attempt).rejects.toThrow(SigningKeyError);
      await expect(attempt).rejects.toThrow(message);
      await attempt.catch((error: Error) => {
        if (secret.length > 0) expect(error.message).not.toContain(secret.slice(0, 40));
      });
    }
  });
});

describe("key rotation with overlap (design §2.8)", () => {
  it("old and new keys verify during the overlap; removal and revocation end the old key", async () => {
    const [oldKey, newKey] = [await generateSigningKey(), await generateSigningKey()];
    const oldWindow = { notBefore: T0 - 90 * DAY, notAfter: T0 + DAY };
    const newWindow = { notBefore: T0 - 7 * DAY, notAfter: T0 + 90 * DAY };
    const before = await createLocalSigner({
      active: { secret: oldKey.pem, ...oldWindow },
      previous: [],
      trustVersion: 1,
      trust: ROOT,
    });
    const after = await createLocalSigner({
      active: { secret: newKey.jwk, ...newWindow },
      // Only the public half of the retired key is still configured.
      previous: [{ secret: oldKey.publicJwk, ...oldWindow }],
      trustVersion: 2,
      trust: ROOT,
    });
    expect(after.keyId).not.toBe(before.keyId);
    expect(after.trustDocument().keys.map((k) => k.kid)).toEqual([after.keyId, before.keyId]);

    // The agent only swaps its trust document: no re-enrollment.
    const clock = testClock();
    const { ctx } = verifyContext(after.trustDocument(), clock);
    const oldItem = await before.sign(workClaims({ jti: "old-1" }));
    const newItem = await after.sign(workClaims({ jti: "new-1", seq: 11 }));
    expect(await verifyWorkItem(oldItem, ctx)).toMatchObject({ ok: true, kid: before.keyId });
    expect(await verifyWorkItem(newItem, ctx)).toMatchObject({ ok: true, kid: after.keyId });

    const removed = await createLocalSigner({
      active: { secret: newKey.pem, ...newWindow },
      trustVersion: 3,
      trust: ROOT,
    });
    const revoked = await createLocalSigner({
      active: { secret: newKey.pem, ...newWindow },
      previous: [{ secret: oldKey.publicJwk, ...oldWindow }],
      revokedKids: [before.keyId],
      trustVersion: 3,
      trust: ROOT,
    });
    const again = await before.sign(workClaims({ jti: "old-2" }));
    ctx.trust = removed.trustDocument();
    expect(await verifyWorkItem(again, ctx)).toMatchObject({ ok: false, reason: "unknown_kid" });
    ctx.trust = revoked.trustDocument();
    expect(await verifyWorkItem(again, ctx)).toMatchObject({ ok: false, reason: "revoked_kid" });
    expect(
      await verifyWorkItem(await removed.sign(workClaims({ jti: "new-2", seq: 12 })), ctx),
    ).toMatchObject({ ok: true });

    // Past the old key's not_after (+ tolerance) it is inactive even while still listed.
    ctx.trust = after.trustDocument();
    clock.set(T0 + DAY + 31);
    const late = await before.sign(workClaims({ jti: "old-3" }, T0 + DAY + 20));
    expect(await verifyWorkItem(late, ctx)).toMatchObject({ ok: false, reason: "inactive_kid" });
  });

  it("an unknown kid triggers one trust refresh, and an older document is never adopted", async () => {
    const [oldKey, newKey] = [await generateSigningKey(), await generateSigningKey()];
    const window = { notBefore: T0 - DAY, notAfter: T0 + DAY };
    const v1 = await createLocalSigner({
      active: { secret: oldKey.pem, ...window },
      trustVersion: 1,
      trust: ROOT,
    });
    const v2 = await createLocalSigner({
      active: { secret: newKey.pem, ...window },
      previous: [{ secret: oldKey.publicJwk, ...window }],
      trustVersion: 2,
      trust: ROOT,
    });
    const { ctx } = verifyContext(v1.trustDocument());
    let refreshes = 0;
    ctx.refreshTrust = async () => {
      refreshes++;
      return v2.trustDocument();
    };
    expect(await verifyWorkItem(await v2.sign(workClaims()), ctx)).toMatchObject({ ok: true });
    expect(refreshes).toBe(1);

    const { ctx: rollback } = verifyContext(v2.trustDocument());
    const stranger = await createLocalSigner({
      active: { secret: (await generateSigningKey()).pem, ...window },
      trustVersion: 1,
      trust: ROOT,
    });
    rollback.refreshTrust = async () => stranger.trustDocument();
    expect(await verifyWorkItem(await stranger.sign(workClaims()), rollback)).toMatchObject({
      ok: false,
      reason: "unknown_kid",
    });
  });
});
