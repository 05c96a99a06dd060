import { describe, expect, it } from "vitest";
import {
  CommandError,
  CommandNotFoundError,
  CommandTimeoutError,
  createExec,
} from "../../agent/src/host/exec";

describe("exec seam", () => {
  const exec = createExec();

  it("passes arguments as an array, never through a shell", async () => {
    const { stdout } = await exec("printf", ["%s|", "a b", "$(id)", "; rm -rf /"]);
    expect(stdout).toBe("a b|$(id)|; rm -rf /|");
  });

  it("puts the exit code and stderr in a typed error", async () => {
    const error = await exec("sh", ["-c", "echo oops >&2; exit 3"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ exitCode: 3, stderr: "oops\n", command: "sh" });
    expect(String(error)).toContain("sh exited with 3: oops");
  });

  it("tells a missing command and a timeout apart", async () => {
    await expect(exec("strato-no-such-tool", [])).rejects.toBeInstanceOf(CommandNotFoundError);
    const started = Date.now();
    await expect(exec("sleep", ["5"], { timeoutMs: 100 })).rejects.toBeInstanceOf(
      CommandTimeoutError,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("runs every command under a prefix", async () => {
    const prefixed = createExec({ prefix: ["env", "STRATO_PREFIXED=1"] });
    const { stdout } = await prefixed("sh", ["-c", "echo $STRATO_PREFIXED"]);
    expect(stdout).toBe("1\n");
  });
});
