import { describe, expect, it } from "vitest";
import { verifyTrustBundle } from "../../agent/src/trust-bundle";
import { ConfigError, parseConfig } from "../../src/config";
import { signerFromConfig } from "../../src/deps";
import { MemoryLogger } from "../support/fakes";
import { generateSigningKey } from "../support/signing";

const config = (env: Record<string, string>) =>
  parseConfig({ DATABASE_URL: "file:unused.db", ...env }, "node");

describe("trust root configuration (STRATO_TRUST_ROOT_KEY / STRATO_TRUST_BUNDLE)", () => {
  it("takes one source of the trust bundle, and a bundle without the variables it replaces", async () => {
    const key = (await generateSigningKey()).pem;
    expect(() =>
      config({ STRATO_SIGNING_KEY: key, STRATO_TRUST_ROOT_KEY: "x", STRATO_TRUST_BUNDLE: "y" }),
    ).toThrow(/set it or STRATO_TRUST_ROOT_KEY, not both/);
    for (const name of ["STRATO_REVOKED_KIDS", "STRATO_TRUST_VERSION"]) {
      expect(() => config({ STRATO_TRUST_BUNDLE: "y", [name]: "2" })).toThrow(ConfigError);
      expect(() => config({ STRATO_TRUST_BUNDLE: "y", [name]: "2" })).toThrow(
        /the trust bundle lists keys, revocations and its version/,
      );
    }
  });

  it("a signing key without a trust root leaves agents out, and the log says why", async () => {
    const log = new MemoryLogger();
    const signer = await signerFromConfig(
      config({ STRATO_SIGNING_KEY: (await generateSigningKey()).pem }),
      log,
    );
    expect(signer).toBeUndefined();
    expect(log.entries).toContainEqual(
      expect.objectContaining({
        level: "error",
        message: expect.stringContaining("STRATO_SIGNING_KEY needs STRATO_TRUST_ROOT_KEY"),
      }),
    );
  });

  it("with a root key, the control plane signs its own trust bundle under that root", async () => {
    const root = await generateSigningKey();
    const signer = await signerFromConfig(
      config({
        STRATO_SIGNING_KEY: (await generateSigningKey()).pem,
        STRATO_TRUST_ROOT_KEY: root.pem,
      }),
      new MemoryLogger(),
    );
    if (!signer) throw new Error("no signer");
    expect(signer.trustRoot).toEqual(JSON.parse(root.publicJwk));
    expect(await verifyTrustBundle(signer.trustBundle(), JSON.parse(root.publicJwk))).toMatchObject(
      { ok: true, payload: { version: 1, keys: [{ kid: signer.keyId }] } },
    );
  });
});
