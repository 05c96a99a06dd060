import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const AGENT = join(import.meta.dirname, "../../agent/bin/strato-agent");

type Run = { code: number; stdout: string; stderr: string };

/** Runs the real `strato-agent` with only the given STRATO_AGENT_* variables set. */
function agent(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith("STRATO_AGENT_") && name !== "CLOUD_HYPERVISOR_BIN",
    ),
  );
  return new Promise((resolve) => {
    execFile(
      AGENT,
      args,
      { env: { ...base, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

type Described = {
  file: string | null;
  settings: Record<string, { value: unknown; source: string }>;
};

describe("strato-agent configuration: config file, environment and flags", () => {
  const dir = mkdtempSync(join(tmpdir(), "strato-agent-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("reads the file, lets the environment override it and flags override both", async () => {
    const config = file(
      "agent.yaml",
      [
        "url: https://cp.example.net",
        "token: strato_enr_secret",
        `state_dir: ${join(dir, "from-file")}`,
        "poll_ms: 700",
        "wait_s: 0",
        "bridge: br-file",
        "test_ops: true",
      ].join("\n"),
    );
    const run = await agent(["config", "--config", config, "--state-dir", join(dir, "from-flag")], {
      STRATO_AGENT_POLL_MS: "900",
      STRATO_AGENT_STATE_DIR: join(dir, "from-env"),
    });
    expect(run.code, run.stderr).toBe(0);
    const shown = JSON.parse(run.stdout) as Described;
    expect(shown.file).toBe(config);
    expect(shown.settings.url).toEqual({ value: "https://cp.example.net", source: "file" });
    expect(shown.settings.token).toEqual({ value: "(hidden)", source: "file" });
    expect(shown.settings.poll_ms).toEqual({ value: 900, source: "env" });
    expect(shown.settings.state_dir).toEqual({ value: join(dir, "from-flag"), source: "flag" });
    expect(shown.settings.wait_s).toEqual({ value: 0, source: "file" });
    expect(shown.settings.test_ops).toEqual({ value: true, source: "file" });
    expect(shown.settings.heartbeat_ms).toEqual({ value: 10_000, source: "default" });
    expect(shown.settings.simulator).toEqual({ value: "fallback", source: "default" });
    expect(run.stdout).not.toContain("strato_enr_secret");
  });

  it("finds the file through STRATO_AGENT_CONFIG", async () => {
    const config = file("via-env.yaml", "status_ms: 1234\n");
    const run = await agent(["config"], { STRATO_AGENT_CONFIG: config });
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as Described).settings.status_ms).toEqual({
      value: 1234,
      source: "file",
    });
  });

  it("run takes its state directory from the file", async () => {
    const stateDir = join(dir, "not-enrolled");
    const config = file("run.yaml", `state_dir: ${stateDir}\n`);
    const run = await agent(["run", "--config", config]);
    expect(run.code).toBe(2);
    const line = run.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; stateDir?: string })
      .find((l) => l.msg.startsWith("not enrolled"));
    expect(line?.stateDir).toBe(stateDir);
  });

  it.each([
    ["an unknown key", "pollms: 3\n", {}, /unknown setting pollms in config file/],
    ["a value of the wrong type", "poll_ms: soon\n", {}, /poll_ms \(config file .*\): /],
    ["a long poll over 25 s", "wait_s: 60\n", {}, /wait_s \(config file .*\): /],
    ["a URL that is not http(s)", "url: ftp://cp\n", {}, /url \(config file .*\): /],
    ["an unknown simulator mode", "simulator: sometimes\n", {}, /simulator \(config file .*\): /],
    ["YAML that is not a mapping", "- a\n- b\n", {}, /must be a mapping/],
    ["broken YAML", "poll_ms: [1,\n", {}, /not valid YAML/],
    [
      "a bad environment value",
      "",
      { STRATO_AGENT_HEARTBEAT_MS: "-5" },
      /heartbeat_ms \(env STRATO_AGENT_HEARTBEAT_MS\): /,
    ],
  ])("refuses %s with exit code 2 and names the setting", async (_what, text, env, message) => {
    const config = file(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
    const run = await agent(["run", "--config", config], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it("refuses a config file that does not exist", async () => {
    const run = await agent(["config", "--config", join(dir, "missing.yaml")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cannot read config file .*missing\.yaml/);
  });
});
