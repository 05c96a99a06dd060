import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

/** Source text without comments, so prose about the environment does not count as reading it. */
function code(file: string): string {
  return readFileSync(join(root, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.name.endsWith(".test.ts"))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Rules the linter cannot express; see docs/architecture.md. */
describe("architecture", () => {
  it("nothing below the entry points reads the environment or Worker bindings", () => {
    const offenders = sourceFiles("src")
      .filter((f) => !f.startsWith("src/entry/"))
      .filter((f) => /\bprocess\.env\b|\bc\.env\b|\bctx\.env\b/.test(code(f)));
    expect(offenders).toEqual([]);
  });

  it("only the composition root and entries construct the app", () => {
    const offenders = sourceFiles("src")
      .filter((f) => !f.startsWith("src/entry/") && f !== "src/app.ts")
      .filter((f) => /\bcreateApp\(/.test(code(f)));
    expect(offenders).toEqual([]);
  });

  it("the agent imports nothing from src/ but src/protocol, which stays self-contained", () => {
    const imports = (f: string) =>
      [...code(f).matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1] ?? "");
    const agentLeaks = sourceFiles("agent")
      .flatMap((f) => imports(f).map((spec) => ({ f, spec })))
      .filter(({ spec }) => spec.includes("/src/") && !spec.includes("/src/protocol/"));
    const protocolLeaks = sourceFiles("src/protocol")
      .flatMap((f) => imports(f).map((spec) => ({ f, spec })))
      .filter(({ spec }) => !spec.startsWith("./") && spec !== "zod");
    expect([...agentLeaks, ...protocolLeaks]).toEqual([]);
  });
});
