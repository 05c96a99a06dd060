import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

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

  it("explains its usage for an unknown command", { timeout: 30_000 }, () => {
    const res = strato(["frobnicate"]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain("strato db migrate");
  });
});
