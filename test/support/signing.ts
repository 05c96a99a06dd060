import { type CryptoKey, exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { createMemoryExecutionState, createMemoryReplayJournal } from "../../agent/src/journal";
import type { VerifyContext } from "../../agent/src/verify";
import type { TrustDocument } from "../../src/protocol/trust";
import type { WorkItemClaims } from "../../src/protocol/work-item";

/** A fresh Ed25519 key in both secret formats a Worker secret may hold. */
export type TestSigningKey = {
  privateKey: CryptoKey;
  /** PKCS8 PEM, as `wrangler secret put` would store it. */
  pem: string;
  /** Private JWK as a JSON string. */
  jwk: string;
  /** Public JWK only, as a retired key may be configured. */
  publicJwk: string;
};

export async function generateSigningKey(): Promise<TestSigningKey> {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...pub } = jwk;
  return {
    privateKey,
    pem: await exportPKCS8(privateKey),
    jwk: JSON.stringify(jwk),
    publicJwk: JSON.stringify(pub),
  };
}

/**
 * What a test control plane needs to serve agents: a work-item signing key and a trust root that
 * signs the trust document (STRATO_TRUST_ROOT_KEY). Keep `root` across restarts: agents pin it.
 */
export async function signingEnv(
  key?: TestSigningKey,
  root?: TestSigningKey,
): Promise<{ STRATO_SIGNING_KEY: string; STRATO_TRUST_ROOT_KEY: string }> {
  return {
    STRATO_SIGNING_KEY: (key ?? (await generateSigningKey())).pem,
    STRATO_TRUST_ROOT_KEY: (root ?? (await generateSigningKey())).jwk,
  };
}

export const TEST_ISSUER = "https://cp.test";
export const TEST_HOST = "host_01jd7x0000aaaaaaaaaaaaaaaa";
/** 2026-01-01T00:00:00Z: tests run on a fixed clock. */
export const T0 = 1_767_225_600;

/** Valid claims for a `vm.create` on TEST_HOST issued at `iat`; override per test. */
export function workClaims(overrides: Partial<WorkItemClaims> = {}, iat = T0): WorkItemClaims {
  return {
    iss: TEST_ISSUER,
    aud: TEST_HOST,
    sub: "wi_01jd7x0000bbbbbbbbbbbbbbbb",
    jti: `wi_01jd7x0000bbbbbbbbbbbbbbbb:a1:e1:${iat}`,
    iat,
    nbf: iat,
    exp: iat + 300,
    v: 1,
    op: "vm.create",
    op_v: 1,
    resource: { kind: "vm", id: "vm_01jd7x0000cccccccccccccccc", uid: "9f1c0000" },
    gen: 1,
    seq: 10,
    after: [],
    idem: "op_01jd7x0000dddddddddddddddd:prep",
    attempt: 1,
    lease_epoch: 1,
    start_by: iat + 900,
    timeout_s: 600,
    params: { vcpus: 2, memory_mib: 2048 },
    ...overrides,
  };
}

/** A settable clock starting at T0 + 5 s, as both the CP and the agent would see it. */
export function testClock(startS = T0 + 5) {
  let ms = startS * 1000;
  return {
    now: () => ms,
    set(seconds: number) {
      ms = seconds * 1000;
    },
  };
}

/** A verification context for TEST_HOST with in-memory journals and a claim from cursor 0. */
export function verifyContext(trust: TrustDocument, clock = testClock()) {
  const state = createMemoryExecutionState();
  const ctx: VerifyContext = {
    hostId: TEST_HOST,
    issuer: TEST_ISSUER,
    clock,
    trust,
    journal: createMemoryReplayJournal(clock),
    state,
    claim: { cursor: 0, trustVersion: trust.version },
  };
  return { ctx, clock, state };
}
