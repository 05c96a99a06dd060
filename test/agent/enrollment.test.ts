import { eq } from "drizzle-orm";
import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import { enrollmentProof, generateAgentKey, tokenAssertion } from "../../agent/src/identity";
import { verifyTrustBundle } from "../../agent/src/trust-bundle";
import { auditEvents, enrollmentTokens, hosts } from "../../src/db/schema";
import { createEnrollmentToken } from "../../src/domain/hosts/create-enrollment-token";
import { enroll } from "../../src/domain/hosts/enroll";
import { listEnrollmentTokens } from "../../src/domain/hosts/list-enrollment-tokens";
import { revokeEnrollmentToken } from "../../src/domain/hosts/revoke-enrollment-token";
import { decideHost } from "../../src/domain/hosts/transition";
import { ProblemError } from "../../src/http/problem";
import { createHarness } from "../support/harness";
import { secondWritesFirst } from "../support/held-writes";
import {
  accessToken,
  call,
  createOrg,
  enrollHost,
  FACTS,
  mintToken,
  problem,
  readyHost,
  system,
} from "./support";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

describe("enrollment tokens", () => {
  it("are 256-bit secrets shown once, stored as SHA-256, with a 24 h default expiry", async () => {
    const h = await createHarness();
    const orgId = await createOrg(h);
    const { token, secret } = await createEnrollmentToken(system(h), {
      orgId,
      description: "rack 4",
      scope: "site-a",
      maxUses: 2,
    });
    expect(secret).toMatch(/^strato_enr_[A-Za-z0-9_-]{43}$/);
    expect(token.expiresAt - token.createdAt).toBe(24 * 3_600_000);
    const [row] = await h.deps.db.select().from(enrollmentTokens);
    expect(row?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(secret);
    const listed = await listEnrollmentTokens(h.deps, orgId);
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(row?.tokenHash);
  });

  it("refuse enrollment once expired, used up or revoked (401)", async () => {
    const h = await createHarness();
    const orgId = await createOrg(h);
    const once = await mintToken(h, orgId, { maxUses: 1 });
    expect((await enrollHost(h, once)).res.status).toBe(201);
    await problem((await enrollHost(h, once)).res, 401, "invalid_enrollment_token");

    const short = await mintToken(h, orgId, { ttlMs: 60_000 });
    h.clock.advance(61_000);
    await problem((await enrollHost(h, short)).res, 401, "invalid_enrollment_token");

    const revoked = await mintToken(h, orgId);
    const [entry] = (await listEnrollmentTokens(h.deps, orgId)).filter(
      (t) => t.uses === 0 && t.revokedAt === null && t.expiresAt > h.clock.now(),
    );
    if (!entry) throw new Error("token missing");
    await revokeEnrollmentToken(system(h), orgId, entry.id);
    await problem((await enrollHost(h, revoked)).res, 401, "invalid_enrollment_token");
    await problem(
      (await enrollHost(h, "strato_enr_nonsense")).res,
      401,
      "invalid_enrollment_token",
    );
  });

  it("concurrent enrollments never use a token past its uses, and one the same key loses costs no use", async () => {
    const h = await createHarness();
    const orgId = await createOrg(h);
    const twice = await mintToken(h, orgId, { maxUses: 2 });
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => (await enrollHost(h, twice)).res.status),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(2);
    expect(statuses.filter((s) => s === 401)).toHaveLength(4);

    // One key, enrolled twice at once (the second writes between the first's checks and its
    // write): one host, one use, and a clear 409 for the other.
    const spare = await mintToken(h, orgId, { maxUses: 5 });
    const { key } = await generateAgentKey();
    const proof = await enrollmentProof(key, spare, h.clock.now());
    const body = { token: spare, public_jwk: key.publicJwk, facts: FACTS, proof };
    const { first, second } = await secondWritesFirst(
      h.deps,
      (deps) =>
        enroll(deps, body, "first").then(
          () => "enrolled",
          (err: unknown) => (err instanceof ProblemError ? err.problem.code : String(err)),
        ),
      () => call(h, "/enroll", { body }),
    );
    expect(second.status).toBe(201);
    expect(await first).toBe("conflict");
    const [row] = (await listEnrollmentTokens(h.deps, orgId)).filter((t) => t.maxUses === 5);
    expect(row?.uses).toBe(1);
  });
});

describe("enrollment", () => {
  it("creates a pending host with its facts and public key only, then approval lets it work", async () => {
    const h = await createHarness();
    const orgId = await createOrg(h);
    const secret = await mintToken(h, orgId);
    const { res, key } = await enrollHost(h, secret);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { host_id: string; status: string; issuer: string };
    const signer = h.deps.signer;
    if (!signer) throw new Error("no signer");
    // The root the agent pins: trust bundles must verify under it.
    expect(body).toMatchObject({
      status: "pending",
      issuer: "strato",
      trust_root: signer.trustRoot,
    });
    const [row] = await h.deps.db.select().from(hosts).where(eq(hosts.id, body.host_id));
    expect(row).toMatchObject({ state: "pending", orgId, name: "hv-01", scope: "site-a" });
    expect(row?.publicJwk).toEqual(key.publicJwk);
    expect(row?.facts).toMatchObject({ cpus: 16, kvm: true });

    // Pending hosts get a token but every work endpoint answers 403 pending_approval.
    const token = await accessToken(h, key, body.host_id);
    await problem(await call(h, "/claim", { token, body: { cursor: 0 } }), 403, "pending_approval");
    await problem(await call(h, "/enrollment", { token }), 403, "pending_approval");
    await problem(await call(h, "/heartbeat", { token, body: {} }), 403, "pending_approval");

    await decideHost(system(h), body.host_id, "approve");
    const approved = await call(h, "/enrollment", { token });
    expect(approved.status).toBe(200);
    const { trust } = (await approved.json()) as { status: string; trust: string };
    expect(await verifyTrustBundle(trust, signer.trustRoot)).toMatchObject({
      ok: true,
      payload: { version: 1, keys: [{ kid: signer.keyId }] },
    });
    const refreshed = await call(h, "/trust", { token });
    expect(await refreshed.json()).toEqual({ trust });
    expect((await call(h, "/claim", { token, body: { cursor: 0 } })).status).toBe(200);
  });

  it("without a signing key and trust root, enrollment is refused (503) before the token is used", async () => {
    const h = await createHarness();
    const signer = h.deps.signer;
    if (!signer) throw new Error("no signer");
    delete h.deps.signer;
    const orgId = await createOrg(h);
    const secret = await mintToken(h, orgId);
    await problem((await enrollHost(h, secret)).res, 503, "not_ready");
    h.deps.signer = signer;
    expect((await enrollHost(h, secret)).res.status).toBe(201);
  });

  it("an agent that expects another trust root is refused (409) before anything is recorded", async () => {
    const h = await createHarness();
    const orgId = await createOrg(h);
    const secret = await mintToken(h, orgId, { maxUses: 1 });
    const root = h.deps.signer?.trustRoot;
    if (!root) throw new Error("no trust root");
    const ours = await calculateJwkThumbprint(root, "sha256");
    const enrollExpecting = async (trust_root_kid: string) => {
      const { key } = await generateAgentKey();
      const proof = await enrollmentProof(key, secret, h.clock.now());
      return call(h, "/enroll", {
        body: { token: secret, public_jwk: key.publicJwk, facts: FACTS, proof, trust_root_kid },
      });
    };
    const refused = await enrollExpecting("A".repeat(43));
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      code: "trust_root_mismatch",
      trust_root_kid: ours,
    });
    expect(await h.deps.db.select().from(hosts)).toEqual([]);
    const malformed = await enrollExpecting("not a thumbprint");
    expect(malformed.status).toBe(422);
    expect(JSON.stringify(await malformed.json())).toContain("trust_root_kid");
    // The token kept its one use: the right root enrolls.
    expect((await enrollExpecting(ours)).status).toBe(201);
  });

  it("a rejected host is refused with host_rejected", async () => {
    const h = await createHarness();
    const orgId = await createOrg(h);
    const { res, key } = await enrollHost(h, await mintToken(h, orgId));
    const { host_id: hostId } = (await res.json()) as { host_id: string };
    const token = await accessToken(h, key, hostId);
    await decideHost(system(h), hostId, "reject");
    await problem(await call(h, "/claim", { token, body: { cursor: 0 } }), 403, "host_rejected");
    const assertion = await tokenAssertion(key, hostId, "strato", h.clock.now());
    await problem(
      await call(h, "/token", { body: { grant_type: JWT_BEARER, assertion } }),
      403,
      "host_rejected",
    );
  }, 10_000);

  it("re-enrolling a known machine goes pending and leaves the old identity working", async () => {
    const h = await createHarness();
    const first = await readyHost(h);
    const secret = await mintToken(h, first.orgId);
    const { res, key } = await enrollHost(h, secret, { ...FACTS, hostname: "hv-01-rebuilt" });
    expect(res.status).toBe(201);
    const again = (await res.json()) as { host_id: string; replaces_host_id: string };
    expect(again.host_id).not.toBe(first.hostId);
    expect(again.replaces_host_id).toBe(first.hostId);
    // The old key still works; the new one waits.
    expect((await call(h, "/claim", { token: first.token, body: { cursor: 0 } })).status).toBe(200);
    const newToken = await accessToken(h, key, again.host_id);
    await problem(
      await call(h, "/claim", { token: newToken, body: { cursor: 0 } }),
      403,
      "pending_approval",
    );
    const audit = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "host.reenroll"));
    expect(audit).toHaveLength(1);
    // Approving the re-enrollment revokes the identity it replaces, at once.
    await decideHost(system(h), again.host_id, "approve");
    await problem(
      await call(h, "/claim", { token: first.token, body: { cursor: 0 } }),
      403,
      "host_revoked",
    );
    expect((await call(h, "/claim", { token: newToken, body: { cursor: 0 } })).status).toBe(200);
  });

  it("a second re-enrollment rejects the first, still pending: one machine never has two approved identities", async () => {
    const h = await createHarness();
    const first = await readyHost(h);
    const secret = await mintToken(h, first.orgId);
    h.clock.advance(1_000);
    const p1 = (await (await enrollHost(h, secret)).res.json()) as { host_id: string };
    h.clock.advance(1_000);
    const p2 = (await (await enrollHost(h, secret)).res.json()) as {
      host_id: string;
      replaces_host_id: string;
    };
    expect(p2.replaces_host_id).toBe(first.hostId);
    const state = async (id: string) =>
      (await h.deps.db.select({ state: hosts.state }).from(hosts).where(eq(hosts.id, id)))[0]
        ?.state;
    expect(await state(p1.host_id)).toBe("rejected");
    await decideHost(system(h), p2.host_id, "approve");
    expect(await state(first.hostId)).toBe("revoked");
    // The superseded one can no longer be approved.
    await expect(decideHost(system(h), p1.host_id, "approve")).rejects.toThrow(/rejected/);
    const revokes = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "host.revoke"));
    expect(revokes).toHaveLength(1);
  });

  it("refuses a proof of possession by another key or for another token", async () => {
    const h = await createHarness();
    const orgId = await createOrg(h);
    const secret = await mintToken(h, orgId);
    const { key } = await generateAgentKey();
    const { key: other } = await generateAgentKey();
    const wrongKey = await enrollmentProof(other, secret, h.clock.now());
    const res = await call(h, "/enroll", {
      body: { token: secret, public_jwk: key.publicJwk, facts: FACTS, proof: wrongKey },
    });
    await problem(res, 401, "invalid_assertion");
    const wrongToken = await enrollmentProof(key, "strato_enr_other", h.clock.now());
    const res2 = await call(h, "/enroll", {
      body: { token: secret, public_jwk: key.publicJwk, facts: FACTS, proof: wrongToken },
    });
    await problem(res2, 401, "invalid_assertion");
    // Neither attempt used the token up.
    const [row] = await h.deps.db.select().from(enrollmentTokens);
    expect(row?.uses).toBe(0);
  });

  it("bad input → 422 problem+json listing the fields", async () => {
    const h = await createHarness();
    const res = await call(h, "/enroll", {
      body: { token: "", public_jwk: { kty: "RSA" }, facts: { hostname: "x" }, proof: "a" },
    });
    await problem(res, 422, "validation_failed");
    const tok = await call(h, "/token", { body: { grant_type: "password", assertion: "" } });
    await problem(tok, 422, "validation_failed");
  });
});

describe("agent authentication", () => {
  it("refuses forged, mis-addressed, stale and replayed assertions with 401", async () => {
    const h = await createHarness();
    const { hostId, key } = await readyHost(h);
    const issuer = h.deps.config.agent.issuer;
    const grant = (assertion: string) =>
      call(h, "/token", { body: { grant_type: JWT_BEARER, assertion } });

    const { key: stranger } = await generateAgentKey();
    await problem(
      await grant(await tokenAssertion(stranger, hostId, issuer, h.clock.now())),
      401,
      "invalid_assertion",
    );
    await problem(
      await grant(await tokenAssertion(key, hostId, "other", h.clock.now())),
      401,
      "invalid_assertion",
    );
    await problem(await grant("not.a.jwt"), 401, "invalid_assertion");
    const tampered = await tokenAssertion(key, hostId, issuer, h.clock.now());
    const [a, b, c] = tampered.split(".");
    await problem(
      await grant(`${a}.${b}.${c?.startsWith("A") ? "B" : "A"}${c?.slice(1)}`),
      401,
      "invalid_assertion",
    );
    await problem(
      await grant(await tokenAssertion(key, hostId, issuer, h.clock.now() - 10 * 60_000)),
      401,
      "clock_skew",
    );

    const once = await tokenAssertion(key, hostId, issuer, h.clock.now(), "jti-1");
    expect((await grant(once)).status).toBe(200);
    await problem(await grant(once), 401, "replayed_jti");
  });

  it("a revoked or disabled host is refused immediately, even with a live access token", async () => {
    const h = await createHarness();
    const { hostId, token } = await readyHost(h);
    expect((await call(h, "/heartbeat", { token, body: {} })).status).toBe(200);
    await decideHost(system(h), hostId, "disable");
    await problem(await call(h, "/heartbeat", { token, body: {} }), 403, "host_disabled");
    await decideHost(system(h), hostId, "enable");
    expect((await call(h, "/heartbeat", { token, body: {} })).status).toBe(200);
    await decideHost(system(h), hostId, "revoke");
    await problem(await call(h, "/heartbeat", { token, body: {} }), 403, "host_revoked");
  });

  it("no or unknown access token → 401", async () => {
    const h = await createHarness();
    await problem(await call(h, "/claim", { body: { cursor: 0 } }), 401, "unauthenticated");
    await problem(
      await call(h, "/claim", { token: "strato_agt_nope123456", body: { cursor: 0 } }),
      401,
      "unauthenticated",
    );
  });
});
