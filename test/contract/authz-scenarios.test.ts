import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { runValidation } from "../../src/authz/validate/runner";

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, "../fixtures/permify");
const LOCAL = join(import.meta.dirname, "../fixtures/permify-local");
const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml"));

/**
 * Known upstream quirk (see test/fixtures/permify/NOTICE.md): facebook-groups.yaml has a stray
 * `checks:` key inside an assertion map. It decodes as an assertion on permission `checks`, which
 * group does not have, and Permify reports an error for it. We expect exactly that error.
 */
const EXPECTED_ERRORS: Record<string, string[]> = {
  "facebook-groups.yaml": ["scenarios[2].checks[0].checks"],
};

describe("Permify example shapes through the validate runner", () => {
  it("has the fixtures", () => {
    expect(files.length).toBeGreaterThanOrEqual(11);
  });

  it("keeps the fixtures byte-identical to upstream (sha256 prefixes in NOTICE.md)", () => {
    const notice = readFileSync(join(FIXTURES, "NOTICE.md"), "utf8");
    const prefixes = new Map(
      [...notice.matchAll(/([a-z-]+)\s+`([0-9a-f]{8})`/g)].map((m) => [`${m[1]}.yaml`, m[2]]),
    );
    for (const file of files) {
      const sha = createHash("sha256")
        .update(readFileSync(join(FIXTURES, file)))
        .digest("hex");
      expect(sha.slice(0, 8), file).toBe(prefixes.get(file));
    }
  });

  for (const file of files) {
    it(file, async () => {
      const expectErrors = EXPECTED_ERRORS[file] ?? [];
      const report = await runValidation(readFileSync(join(FIXTURES, file), "utf8"), {
        expectErrors,
      });
      expect(report.loadError).toBeUndefined();
      expect(report.results.filter((r) => r.status === "fail")).toEqual([]);
      const errors = report.results.filter((r) => r.status === "error");
      expect(errors.map((r) => r.id)).toEqual(expectErrors);
      for (const e of errors) expect(e.error?.code).toBe("unknown_permission");
      expect(report.ok).toBe(true);
    });
  }

  it("counts every assertion of facebook-groups (29 pass + 1 expected error)", async () => {
    const text = readFileSync(join(FIXTURES, "facebook-groups.yaml"), "utf8");
    const report = await runValidation(text, {
      expectErrors: EXPECTED_ERRORS["facebook-groups.yaml"] ?? [],
    });
    expect(report.results.filter((r) => r.status === "pass")).toHaveLength(29);
    // Without declaring the quirk, the same file fails: the error is never silently skipped.
    expect((await runValidation(text)).ok).toBe(false);
  });

  it("runs entity_filters, subject_filters, contexts and rules (local fixture)", async () => {
    const report = await runValidation(readFileSync(join(LOCAL, "filters.yaml"), "utf8"));
    expect(report.results.map((r) => r.status)).toEqual(Array(6).fill("pass"));
    expect(report.ok).toBe(true);
  });

  it("fails when an expected error does not happen", async () => {
    const text = readFileSync(join(FIXTURES, "rbac.yaml"), "utf8");
    const report = await runValidation(text, {
      expectErrors: ["scenarios[0].checks[0].view_files"],
    });
    expect(report.missingExpectedErrors).toEqual(["scenarios[0].checks[0].view_files"]);
    expect(report.ok).toBe(false);
  });
});

describe("authz:validate CLI", () => {
  const cli = (...args: string[]) =>
    run("npm", ["run", "-s", "authz:validate", "--", ...args], {
      cwd: join(import.meta.dirname, "../.."),
    });

  it("exits 0 on a passing file", async () => {
    const { stdout } = await cli(join(FIXTURES, "custom-roles.yaml"));
    expect(stdout).toContain("OK: 5 passed, 0 failed, 0 errors");
  });

  it("exits 0 on facebook-groups with its quirk declared, non-zero without", async () => {
    const file = join(FIXTURES, "facebook-groups.yaml");
    await cli("--expect-error", "scenarios[2].checks[0].checks", file);
    await expect(cli(file)).rejects.toMatchObject({ code: 1 });
  });

  it("exits non-zero on a wrong assertion", async () => {
    const failure = await cli(join(LOCAL, "wrong-assertion.yaml")).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 1 });
    expect(String((failure as { stdout?: unknown }).stdout)).toContain(
      "FAIL  scenarios[0].checks[0].edit",
    );
  });
});
