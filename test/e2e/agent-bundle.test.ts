import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "strato-agent-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run build:agent`: one file that runs with plain `node`, away from the repository. */
describe("the packaged agent", () => {
  it("builds to one file that runs without node_modules", { timeout: 120_000 }, () => {
    const built = spawnSync("npm", ["run", "-s", "build:agent"], { cwd: root, encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    const bundle = join(root, "dist", "strato-agent.mjs");
    expect(existsSync(bundle)).toBe(true);
    const copy = join(dir, "strato-agent.mjs");
    copyFileSync(bundle, copy);

    const node = process.execPath;
    const help = spawnSync(node, [copy, "--help"], { cwd: dir, encoding: "utf8" });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain("strato-agent enroll --url URL --token TOKEN");

    // Enrolling loads every part (facts, jose keys, the undici client): with nobody listening it
    // fails cleanly, after writing its key to a 0700 state directory.
    const state = join(dir, "state");
    const enroll = spawnSync(
      node,
      [
        copy,
        "enroll",
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "strato_enr_x",
        "--state-dir",
        state,
      ],
      { cwd: dir, encoding: "utf8", timeout: 60_000 },
    );
    expect(enroll.status, enroll.stdout + enroll.stderr).toBe(1);
    expect(enroll.stdout).toContain("enrollment failed");
    expect(existsSync(join(state, "agent-key.pem"))).toBe(true);
  });
});
