import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { generateAgentKey, keyRotationProof, tokenAssertion } from "../../agent/src/identity";
import { auditEvents } from "../../src/db/schema";
import { decideHost } from "../../src/domain/hosts/transition";
import { KEY_ROTATION_PROOF_TYP } from "../../src/protocol/agent-api";
import { createHarness, type Harness } from "../support/harness";
import { accessToken, call, problem, type ReadyHost, readyHost, system } from "./support";

async function rotate(h: Harness, host: ReadyHost, body: unknown, token = host.token) {
  return call(h, "/keys", { token, body });
}

async function newKeyAndProof(h: Harness, host: ReadyHost) {
  const { key } = await generateAgentKey();
  const proof = await keyRotationProof(key, host.hostId, host.key, h.clock.now());
  return { key, body: { public_jwk: key.publicJwk, proof } };
}

/** POST /token with an assertion by `key`: the status and problem code, if any. */
async function tokenWith(h: Harness, host: ReadyHost, key: ReadyHost["key"]) {
  const assertion = await tokenAssertion(key, host.hostId, "strato", h.clock.now());
  const res = await call(h, "/token", {
    body: { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion },
  });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: body.code };
}

describe("agent key rotation (POST /api/v1/agent/keys, design §2.8)", () => {
  it("replaces the host's key without a new enrollment; the old key signs in only during the overlap", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const { key, body } = await newKeyAndProof(h, host);
    const res = await rotate(h, host, body);
    expect(res.status, await res.clone().text()).toBe(200);
    const overlapMs = h.deps.config.agent.keyOverlapMs;
    expect(await res.json()).toEqual({
      host_id: host.hostId,
      key_thumbprint: key.thumbprint,
      previous_key_not_after: h.clock.now() + overlapMs,
    });
    // The same request again (the answer was lost) gets the same answer and changes nothing.
    const again = await rotate(h, host, body);
    expect(await again.json()).toMatchObject({ key_thumbprint: key.thumbprint });

    expect((await tokenWith(h, host, key)).status).toBe(200);
    expect((await tokenWith(h, host, host.key)).status).toBe(200);
    h.clock.advance(overlapMs + 1_000);
    expect(await tokenWith(h, host, host.key)).toEqual({
      status: 401,
      code: "invalid_assertion",
    });
    // Same host, working with the new key.
    const token = await accessToken(h, key, host.hostId);
    expect((await call(h, "/heartbeat", { token, body: {} })).status).toBe(200);

    const audit = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "host.key_rotated"));
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actorType: "host",
      actorId: host.hostId,
      targetId: host.hostId,
      detail: { from: host.key.thumbprint, to: key.thumbprint },
    });
  });

  it("refuses proofs not by the new key, not bound to this host and key, or too long-lived (422 proof)", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const { key } = await generateAgentKey();
    const { key: other } = await generateAgentKey();
    const bad = [
      // Signed by another key than the one offered.
      await keyRotationProof(other, host.hostId, host.key, h.clock.now()),
      // For another host.
      await keyRotationProof(key, "host_someoneelse", host.key, h.clock.now()),
      // Naming another key as the one it replaces.
      await keyRotationProof(key, host.hostId, other, h.clock.now()),
      // Valid for an hour.
      await new SignJWT({ jkt: key.thumbprint, prev: host.key.thumbprint })
        .setProtectedHeader({ alg: "EdDSA", typ: KEY_ROTATION_PROOF_TYP })
        .setSubject(host.hostId)
        .setIssuedAt(Math.floor(h.clock.now() / 1000))
        .setExpirationTime(Math.floor(h.clock.now() / 1000) + 3600)
        .setJti("long-lived")
        .sign(key.privateKey),
      "not-a-jws",
    ];
    for (const proof of bad) {
      const res = await rotate(h, host, { public_jwk: key.publicJwk, proof });
      const text = await res.text();
      expect(res.status, text).toBe(422);
      expect(JSON.parse(text)).toMatchObject({
        code: "validation_failed",
        errors: [{ in: "body", field: "proof" }],
      });
    }
    // Still the old key.
    expect((await tokenWith(h, host, host.key)).status).toBe(200);
  });

  it("bad bodies are 422 naming the field; a key in use elsewhere is 409", async () => {
    const h = await createHarness();
    const host = await readyHost(h);
    const { key } = await generateAgentKey();
    const proof = await keyRotationProof(key, host.hostId, host.key, h.clock.now());
    const privateJwk = { ...key.publicJwk, d: "AAAA" };
    for (const [body, field] of [
      [{ public_jwk: key.publicJwk }, "proof"],
      [{ proof }, "public_jwk"],
      [{ public_jwk: privateJwk, proof }, "public_jwk"],
      [{ public_jwk: { kty: "RSA", n: "x", e: "AQAB" }, proof }, "public_jwk"],
    ] as const) {
      const res = await rotate(h, host, body);
      const text = await res.text();
      expect(res.status, text).toBe(422);
      expect(JSON.stringify(JSON.parse(text).errors), text).toContain(field);
    }
    // Another host's key.
    const neighbour = await readyHost(h);
    const stolen = await keyRotationProof(neighbour.key, host.hostId, host.key, h.clock.now());
    await problem(
      await rotate(h, host, { public_jwk: neighbour.key.publicJwk, proof: stolen }),
      409,
      "conflict",
    );
  });

  it("needs an approved host's access token", async () => {
    const h = await createHarness();
    const pending = await readyHost(h, null);
    const { body } = await newKeyAndProof(h, pending);
    await problem(await rotate(h, pending, body), 403, "pending_approval");
    await problem(await call(h, "/keys", { body }), 401, "unauthenticated");
    const revoked = await readyHost(h);
    const { body: revokedBody } = await newKeyAndProof(h, revoked);
    await decideHost(system(h), revoked.hostId, "revoke");
    await problem(await rotate(h, revoked, revokedBody), 403, "host_revoked");
  });
});
