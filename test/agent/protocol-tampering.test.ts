import {
  type CryptoKey,
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRUST_TYP, WORK_ITEM_ALG } from "../../src/protocol/limits";
import { algNone, es256, flipBit, hs256WithPublicKey, resign, sign } from "../support/forge-token";
import { processSandbox } from "../support/processes";
import { type Lab, type LabAgent, startLab } from "../support/protocol-lab";
import {
  announceTrustVersion,
  CLAIM_PATH,
  deliveredItem,
  replayInNextClaim,
  serveTrustBundle,
  tamperItem,
} from "../support/proxy-rules";
import { generateSigningKey } from "../support/signing";

/**
 * Design §4.2, the rows about what a host is sent: the real agent process talks to the real Node
 * control plane through a loopback proxy that changes claim responses on the way. Outcomes are
 * read from the agent's JSON log, the REST API (audit log) and the control plane's work items.
 */
describe("agent protocol against tampered work items (design §4.2)", () => {
  const sandbox = processSandbox("strato-protocol-tamper-");
  let lab: Lab;
  let agent: LabAgent;
  let cpKey: CryptoKey;
  const nowS = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    lab = await startLab(sandbox);
    agent = await lab.agent("tamper-host");
    cpKey = await importPKCS8(lab.signingKey.pem, WORK_ITEM_ALG);
  }, 180_000);
  afterAll(() => lab?.close());

  const executed = (itemId: string) =>
    agent.lines().filter((l) => l.msg === "executing work item" && l.itemId === itemId).length;
  const agentReason = (itemId: string) =>
    agent
      .lines()
      .find(
        (l) =>
          (l.msg === "security: work item rejected" || l.msg === "work item not run") &&
          l.itemId === itemId,
      )?.reason;
  const claims = () => agent.proxy.seen("POST", CLAIM_PATH).length;
  const claimedCount = async (itemId: string) =>
    (await lab.events(itemId)).filter((e) => e.kind === "claimed").length;

  it("refuses forged, mis-typed, misaddressed and malformed items, and they are never offered again (rows 1, 3, 4, 5, 25)", async () => {
    const rootJwk = JSON.parse(lab.trustRoot.publicJwk);
    const rootKey = await importJWK(JSON.parse(lab.trustRoot.jwk), WORK_ITEM_ALG);
    /** A trust bundle's payload (design §2.2) listing the control plane's key. */
    const trustPayload = (kid: unknown) => ({
      version: 1,
      keys: [
        {
          kid,
          alg: WORK_ITEM_ALG,
          jwk: JSON.parse(lab.signingKey.publicJwk),
          not_before: 0,
          not_after: nowS() + 86_400,
        },
      ],
      revoked_kids: [],
      root: rootJwk,
      iat: nowS(),
    });
    const cases: { name: string; reason: string; forge: (token: string) => Promise<string> }[] = [
      {
        name: "row 1: payload bit",
        reason: "bad_signature",
        forge: async (t) => flipBit(t, "payload"),
      },
      {
        name: "row 1: signature bit",
        reason: "bad_signature",
        forge: async (t) => flipBit(t, "signature"),
      },
      { name: "row 3: alg none", reason: "alg", forge: async (t) => algNone(t) },
      {
        name: "row 3: HS256 keyed with the public key",
        reason: "alg",
        forge: (t) => hs256WithPublicKey(t, JSON.parse(lab.signingKey.publicJwk)),
      },
      {
        name: "row 3: alg Ed25519 (not the allowed EdDSA)",
        reason: "alg",
        forge: (t) => resign(t, cpKey, { header: { alg: "Ed25519" } }),
      },
      { name: "row 3: ES256 key of the wrong type", reason: "alg", forge: es256 },
      {
        // Threat 6: a key hint pointing at the attacker's keys is never followed.
        name: "row 3: a jku header",
        reason: "bad_header",
        forge: (t) => resign(t, cpKey, { header: { jku: "https://attacker.example/jwks" } }),
      },
      {
        // Signed by the real control-plane key: only the type tells it apart.
        name: "row 4: a trust document passed off as a work item",
        reason: "typ",
        forge: (t) =>
          sign(
            { ...decodeProtectedHeader(t), typ: TRUST_TYP },
            trustPayload(decodeProtectedHeader(t).kid),
            cpKey,
          ),
      },
      {
        // A genuine bundle, signed by the trust root, under its own header.
        name: "row 4: a root-signed trust bundle passed off as a work item",
        reason: "typ",
        forge: async (t) =>
          sign(
            { alg: WORK_ITEM_ALG, typ: TRUST_TYP, kid: await calculateJwkThumbprint(rootJwk) },
            trustPayload(decodeProtectedHeader(t).kid),
            rootKey,
          ),
      },
      {
        name: "row 5: an item signed for another host",
        reason: "wrong_audience",
        forge: (t) => resign(t, cpKey, { claims: { aud: "host_0000000000000000000000other" } }),
      },
      {
        // Validly signed for this host, but for another item than the claim response names.
        name: "row 5: an item moved under another item's claim entry",
        reason: "wrong_item",
        forge: (t) => resign(t, cpKey, { claims: { sub: "wi_00000000000000000000000000" } }),
      },
      {
        name: "row 25: oversized (> 256 KiB), validly signed",
        reason: "schema",
        forge: (t) => resign(t, cpKey, { claims: { params: { pad: "x".repeat(300_000) } } }),
      },
      {
        name: "row 25: malformed JWS (two segments)",
        reason: "schema",
        forge: async (t) => t.split(".").slice(0, 2).join("."),
      },
      {
        name: "row 25: params failing the op's schema, validly signed",
        reason: "unsupported_op",
        forge: (t) => resign(t, cpKey, { claims: { params: { path: "../../etc/shadow" } } }),
      },
    ];

    const items = [];
    for (const c of cases) {
      const item = await lab.enqueue(agent.hostId);
      agent.proxy.use(tamperItem(item.id, c.forge));
      items.push({ ...c, id: item.id });
    }
    for (const item of items) {
      const row = await lab.settled(item.id, ["rejected", "succeeded", "failed"]);
      expect({ case: item.name, state: row.state, reason: row.rejectReason }).toEqual({
        case: item.name,
        state: "rejected",
        reason: item.reason,
      });
      expect(agentReason(item.id), item.name).toBe(item.reason);
      expect(executed(item.id), item.name).toBe(0);
    }

    // Security rejections are audited (actor: the host, outcome denied) and alerted.
    const audited = await lab.audit("work_item.rejected_security");
    for (const item of items) {
      expect(audited.find((a) => a.targetId === item.id)?.detail, item.name).toMatchObject({
        reason: item.reason,
      });
      expect(lab.server.output()).toContain(item.id);
    }
    expect(lab.server.output()).toContain("security: agent rejected a work item");

    // Never re-offered: several more claims go by, and each item was claimed exactly once.
    const after = claims();
    await lab.until("three more claims", async () => (claims() >= after + 3 ? true : undefined));
    for (const item of items) expect(await claimedCount(item.id), item.name).toBe(1);
  }, 120_000);

  it("refreshes trust once for unknown kids, then refuses them (row 2)", async () => {
    const { privateKey } = await generateKeyPair("EdDSA");
    const foreign = (t: string) =>
      resign(t, privateKey, { header: { kid: "not-in-the-trust-document" } });
    const trustBefore = agent.proxy.seen("GET", "/api/v1/agent/trust").length;
    const first = await lab.enqueue(agent.hostId);
    const second = await lab.enqueue(agent.hostId);
    agent.proxy.use(tamperItem(first.id, foreign));
    agent.proxy.use(tamperItem(second.id, foreign));
    for (const item of [first, second]) {
      const row = await lab.settled(item.id, ["rejected", "succeeded"]);
      expect(row).toMatchObject({ state: "rejected", rejectReason: "unknown_kid" });
      expect(executed(item.id)).toBe(0);
    }
    // One refresh for both (30 s cooldown), not one per item.
    expect(agent.proxy.seen("GET", "/api/v1/agent/trust").length - trustBefore).toBe(1);
  }, 90_000);

  it("does not run stale or early items; the control plane re-issues them freshly signed (rows 6, 7)", async () => {
    const expired = await lab.enqueue(agent.hostId);
    const early = await lab.enqueue(agent.hostId);
    const late = await lab.enqueue(agent.hostId);
    const iat = nowS() - 400;
    agent.proxy.use(
      tamperItem(expired.id, (t) =>
        resign(t, cpKey, { claims: { iat, nbf: iat, exp: iat + 300 } }),
      ),
    );
    agent.proxy.use(
      tamperItem(early.id, (t) => resign(t, cpKey, { claims: { nbf: nowS() + 600 } })),
    );
    agent.proxy.use(
      tamperItem(late.id, (t) => resign(t, cpKey, { claims: { start_by: nowS() - 120 } })),
    );
    // Past its deadline before any claim: the control plane never offers it.
    const overdue = await lab.enqueue(agent.hostId, { startByMs: Date.now() - 1_000 });

    for (const [item, reason] of [
      [expired, "expired"],
      [early, "not_yet_valid"],
    ] as const) {
      await lab.settled(item.id, ["succeeded"]);
      expect(agentReason(item.id)).toBe(reason);
      expect(executed(item.id)).toBe(1);
      const events = await lab.events(item.id);
      const jtis = events.filter((e) => e.kind === "claimed").map((e) => e.detail.jti);
      expect(new Set(jtis).size).toBe(jtis.length);
      expect(jtis.length).toBeGreaterThanOrEqual(2);
      expect(events.find((e) => e.kind === "rejected")?.detail).toMatchObject({ reason });
    }
    expect(await lab.settled(late.id, ["expired", "succeeded"])).toMatchObject({
      state: "expired",
      rejectReason: "deadline",
    });
    expect(agentReason(late.id)).toBe("deadline");
    expect(executed(late.id)).toBe(0);
    expect(await lab.settled(overdue.id, ["expired", "succeeded"])).toMatchObject({
      state: "expired",
    });
    expect(await claimedCount(overdue.id)).toBe(0);
  }, 120_000);

  it("runs a replayed item once and a superseded generation never (rows 8, 10)", async () => {
    const once = await lab.enqueue(agent.hostId);
    await lab.settled(once.id, ["succeeded"]);
    const delivered = deliveredItem(agent.proxy.exchanges, once.id);
    if (!delivered) throw new Error("the item's claim response was not seen");
    expect(decodeJwt(delivered.token).sub).toBe(once.id);
    agent.proxy.use(replayInNextClaim(delivered));
    await lab.until("the replay to be refused", async () => agentReason(once.id));
    expect(agentReason(once.id)).toBe("replay");
    expect(executed(once.id)).toBe(1);
    expect((await lab.events(once.id)).filter((e) => e.kind === "result")).toHaveLength(1);

    // Generation 2 is queued before generation 1 of the same resource: 1 is superseded.
    const uid = `${agent.hostId}-reorder`;
    const newer = await lab.enqueue(agent.hostId, { uid, gen: 2 });
    const older = await lab.enqueue(agent.hostId, { uid, gen: 1 });
    await lab.settled(newer.id, ["succeeded"]);
    expect(await lab.settled(older.id, ["superseded", "succeeded"])).toMatchObject({
      state: "superseded",
      rejectReason: "superseded",
    });
    expect(executed(older.id)).toBe(0);
  }, 90_000);

  it("refuses an older trust document offered as new (row 19)", async () => {
    const item = await lab.enqueue(agent.hostId);
    // The claim announces trust version 2; the trust answer is a genuine root-signed bundle, but
    // older than the agent's (a replayed old bundle).
    const rootKey = await importJWK(JSON.parse(lab.trustRoot.jwk), WORK_ITEM_ALG);
    const old = await sign(
      { alg: WORK_ITEM_ALG, typ: TRUST_TYP },
      { version: 0, keys: [], revoked_kids: [], root: JSON.parse(lab.trustRoot.publicJwk), iat: 0 },
      rootKey,
    );
    agent.proxy.use(serveTrustBundle(old));
    agent.proxy.use(announceTrustVersion(item.id, 2));
    await lab.settled(item.id, ["succeeded"]);
    expect(agent.lines().find((l) => l.msg === "refusing an older trust document")).toMatchObject({
      have: 1,
      got: 0,
    });
    expect(agentReason(item.id)).toBe("stale_trust");
    expect(executed(item.id)).toBe(1);
  }, 60_000);

  it("gives clear errors for bad enrollment tokens and oversized bodies", async () => {
    for (const token of [`strato_enr_${"A".repeat(43)}`, "not-a-token"]) {
      const enroll = lab.agentCommand(
        ["enroll", "--url", lab.base, "--token", token, "--state-dir", `${sandbox.dataDir}/bad`],
        { STRATO_AGENT_MACHINE_ID: "bad00000000000000000000000000bad" },
      );
      expect(await enroll.exited, enroll.output()).toBe(3);
      expect(enroll.output()).toMatch(/enrollment failed.*401 invalid_enrollment_token/);
    }
    const res = await fetch(`${lab.base}/api/v1/agent/enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "x".repeat(3 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: "payload_too_large" });
  }, 60_000);

  // Whoever can answer `GET /trust` (a TLS-intercepting proxy) announces a higher version and
  // serves a document listing its own key: signed by its own root, or not signed at all. The
  // agent accepts only bundles signed by the root it pinned at enrollment.
  it("refuses a trust document signed by another root, or unsigned, and items under the key it adds", async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const attackerRoot = await generateKeyPair("EdDSA", { extractable: true });
    const attackerRootJwk = await exportJWK(attackerRoot.publicKey);
    const document = {
      version: 2,
      keys: [
        {
          kid,
          alg: WORK_ITEM_ALG,
          jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x },
          not_before: 0,
          not_after: nowS() + 86_400,
        },
      ],
      revoked_kids: [],
    };
    const forgedBundle = await sign(
      { alg: WORK_ITEM_ALG, typ: TRUST_TYP, kid: await calculateJwkThumbprint(attackerRootJwk) },
      { ...document, root: attackerRootJwk, iat: nowS() },
      attackerRoot.privateKey,
    );
    const refusals = () => agent.lines().filter((l) => l.msg === "security: trust bundle refused");
    for (const [served, problem] of [
      [forgedBundle, "bad_signature"],
      [document, "malformed"],
    ] as const) {
      const before = refusals().length;
      const item = await lab.enqueue(agent.hostId);
      agent.proxy.use(serveTrustBundle(served));
      agent.proxy.use(announceTrustVersion(item.id, 2));
      agent.proxy.use(tamperItem(item.id, (t) => resign(t, privateKey, { header: { kid } })));
      const row = await lab.settled(item.id, ["rejected", "succeeded"], 30_000);
      expect(row).toMatchObject({ state: "rejected", rejectReason: "unknown_kid" });
      expect(executed(item.id)).toBe(0);
      expect(refusals().slice(before)[0]).toMatchObject({ level: "error", problem });
      expect(agentReason(item.id)).toBe("unknown_kid");
    }
    // The agent still holds the control plane's document and runs its items.
    const honest = await lab.enqueue(agent.hostId);
    expect(await lab.settled(honest.id, ["succeeded", "rejected"])).toMatchObject({
      state: "succeeded",
    });
  }, 90_000);
});

/**
 * Emergency revocation (design §2.8, §4.2 row 19): the control plane restarts with a new key, the
 * old one still listed for the overlap but revoked. An item signed with the old (stolen) key is
 * refused even though the key is in the trust document.
 */
describe("agent protocol after a signing key is revoked (design §4.2 row 19)", () => {
  const sandbox = processSandbox("strato-protocol-revoke-");
  let lab: Lab;
  let agent: LabAgent;

  beforeAll(async () => {
    lab = await startLab(sandbox);
    agent = await lab.agent("revoke-host");
  }, 180_000);
  afterAll(() => lab?.close());

  it("refuses items under a revoked kid once the control plane publishes the revocation", async () => {
    const stolenKey = await importPKCS8(lab.signingKey.pem, WORK_ITEM_ALG);
    const before = await lab.enqueue(agent.hostId);
    await lab.settled(before.id, ["succeeded"]);
    const stolenKid = decodeProtectedHeader(
      deliveredItem(agent.proxy.exchanges, before.id)?.token ?? "",
    ).kid;
    if (typeof stolenKid !== "string") throw new Error("no kid on the delivered item");

    const newKey = await generateSigningKey();
    await lab.crashAndRestartServer({
      STRATO_SIGNING_KEY: newKey.pem,
      STRATO_SIGNING_KEY_PREVIOUS: lab.signingKey.publicJwk,
      STRATO_SIGNING_KEY_PREVIOUS_NOT_AFTER: String(Math.floor(Date.now() / 1000) + 86_400),
      STRATO_REVOKED_KIDS: stolenKid,
      STRATO_TRUST_VERSION: "2",
    });
    const honest = await lab.enqueue(agent.hostId);
    await lab.settled(honest.id, ["succeeded"]);

    const forged = await lab.enqueue(agent.hostId);
    agent.proxy.use(
      tamperItem(forged.id, (t) => resign(t, stolenKey, { header: { kid: stolenKid } })),
    );
    expect(await lab.settled(forged.id, ["rejected", "succeeded"])).toMatchObject({
      state: "rejected",
      rejectReason: "revoked_kid",
    });
    expect(
      agent.lines().some((l) => l.msg === "executing work item" && l.itemId === forged.id),
    ).toBe(false);
    expect((await lab.audit("work_item.rejected_security")).map((a) => a.targetId)).toContain(
      forged.id,
    );
  }, 120_000);
});
