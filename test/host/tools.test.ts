import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createExec } from "../../agent/src/host/exec";
import { checkHostTools } from "../../agent/src/host/tools";

describe("host tool check", () => {
  const empty = mkdtempSync(join(tmpdir(), "strato-tools-"));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it("reports every tool missing on a PATH without them, without throwing", async () => {
    const report = await checkHostTools(createExec({ env: { PATH: empty } }));
    expect(report.missing.sort()).toEqual(["ip", "mcopy", "mkfs.vfat", "qemu-img"]);
    expect(report.tools.every((t) => t.status === "missing")).toBe(true);
    expect(report.warnings).toContainEqual({
      code: "host_tool_missing",
      tool: "qemu-img",
      message: expect.stringContaining("Install Debian package qemu-utils"),
    });
  });

  it("tells a broken tool from a missing one", async () => {
    const bin = mkdtempSync(join(empty, "bin-"));
    writeFileSync(join(bin, "qemu-img"), "#!/bin/sh\necho 'cannot load libfoo' >&2\nexit 127\n");
    chmodSync(join(bin, "qemu-img"), 0o755);
    const report = await checkHostTools(createExec({ env: { PATH: bin } }));
    expect(report.tools.find((t) => t.tool === "qemu-img")).toMatchObject({
      status: "broken",
      detail: expect.stringContaining("cannot load libfoo"),
    });
    expect(report.missing).not.toContain("qemu-img");
  });

  it("reports the installed tools with their versions", async () => {
    const report = await checkHostTools(createExec());
    expect(report.warnings).toEqual([]);
    expect(report.tools.find((t) => t.tool === "qemu-img")).toMatchObject({
      status: "ok",
      version: expect.stringMatching(/qemu-img version \d+/),
    });
  });
});
