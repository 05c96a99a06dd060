import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { calculateJwkThumbprint } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { verifyTrustBundle } from "../../agent/src/trust-bundle";
import { openTrustBundle } from "../../src/signing/trust-bundle";
import { generateSigningKey } from "../support/signing";

const CLI = fileURLToPath(new URL("../../bin/strato", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "strato-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function strato(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(CLI, args, {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: `file:${join(dir, "cli.db")}`, ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The operator's `strato` command, run as a real process. */
describe("strato CLI", () => {
  it("validates Permify files (the authz validate subcommand)", { timeout: 60_000 }, () => {
    const ok = strato(["authz", "validate", "permify/scenarios/strato.yaml"]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/OK: \d+ passed, 0 failed, 0 errors/);
    const missing = strato(["authz", "validate"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("no file given");
  });

  it("migrates a database and issues a set-up code while it has no account", {
    timeout: 60_000,
  }, () => {
    expect(strato(["db", "migrate"]).status).toBe(0);
    const first = strato(["setup-code"]);
    expect(first.status).toBe(0);
    expect(first.stdout.trim()).toMatch(/^[A-Z0-9]{5}(-[A-Z0-9]{5}){3}$/);
  });

  it("makes a trust root and signs a trust bundle offline (strato trust)", {
    timeout: 60_000,
  }, async () => {
    const rootFile = join(dir, "root.jwk");
    const made = strato(["trust", "root-key", "--out", rootFile]);
    expect(made.status, made.stderr).toBe(0);
    const rootPublic = JSON.parse(made.stdout);
    expect(Object.keys(rootPublic).sort()).toEqual(["crv", "kty", "x"]);
    expect(statSync(rootFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(rootFile, "utf8"))).toMatchObject({
      ...rootPublic,
      d: expect.any(String),
    });
    // Never overwrites a root key.
    expect(strato(["trust", "root-key", "--out", rootFile]).status).toBe(2);

    const [current, old] = [await generateSigningKey(), await generateSigningKey()];
    const currentFile = join(dir, "current.pub.jwk");
    const oldFile = join(dir, "old.pub.jwk");
    writeFileSync(currentFile, current.publicJwk);
    writeFileSync(oldFile, old.publicJwk);
    const oldKid = await calculateJwkThumbprint(JSON.parse(old.publicJwk), "sha256");
    const signed = strato([
      "trust",
      "sign",
      "--root-key",
      rootFile,
      "--version",
      "7",
      "--key",
      currentFile,
      "--key",
      `${oldFile}@2030-01-01T00:00:00Z`,
      "--revoke",
      "kid-stolen",
    ]);
    expect(signed.status, signed.stderr).toBe(0);
    const checked = await verifyTrustBundle(signed.stdout.trim(), rootPublic);
    expect(checked).toMatchObject({
      ok: true,
      payload: {
        version: 7,
        keys: [
          {
            kid: await calculateJwkThumbprint(JSON.parse(current.publicJwk), "sha256"),
            not_after: 4_102_444_800,
          },
          { kid: oldKid, not_after: 1_893_456_000 },
        ],
        revoked_kids: ["kid-stolen"],
        root: rootPublic,
      },
    });
    // What the control plane does with STRATO_TRUST_BUNDLE: the bundle verifies under its root.
    expect((await openTrustBundle(signed.stdout)).root).toEqual(rootPublic);

    const noVersion = strato(["trust", "sign", "--root-key", rootFile, "--key", currentFile]);
    expect(noVersion.status).toBe(2);
    expect(noVersion.stderr).toContain("--version N is required");
    const publicRoot = join(dir, "root.pub.jwk");
    writeFileSync(publicRoot, made.stdout);
    const notPrivate = strato([
      "trust",
      "sign",
      "--root-key",
      publicRoot,
      "--version",
      "1",
      "--key",
      currentFile,
    ]);
    expect(notPrivate.status).toBe(1);
    expect(notPrivate.stderr).toContain("root key: file holds no private key");
    const both = strato(["trust", "root-key"]);
    expect(JSON.parse(both.stdout)).toMatchObject({
      kid: expect.any(String),
      private_jwk: { d: expect.any(String) },
    });
  });

  it("explains its usage for an unknown command", { timeout: 30_000 }, () => {
    const res = strato(["frobnicate"]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain("strato db migrate");
  });
});
