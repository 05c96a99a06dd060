/**
 * `npm run bench -- NAME [FLAGS]` runs bench/NAME.ts (flags after NAME go to the bench). Each bench
 * prints its figures and ends with one JSON line of them, so CI or a person can compare runs.
 * `npm run bench` lists the benches, each with the first line of its doc comment and its flags.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();

/** The first line of the file's leading `/** … *\/` comment and its "Flags: …" sentence. */
function describe(name: string): string {
  const doc = /^\/\*\*([\s\S]*?)\*\//.exec(readFileSync(`${here}/${name}.ts`, "utf8"))?.[1] ?? "";
  const lines = doc.split("\n").map((l) => l.replace(/^\s*\*\s?/, "").trim());
  const first = lines.find((l) => l !== "") ?? "";
  const flags = /Flags: ([^.]*(?:\.\d[^.]*)*)\./.exec(lines.join(" "))?.[1];
  return `  ${name.padEnd(18)} ${first}${flags ? `\n  ${"".padEnd(18)} flags: ${flags}` : ""}`;
}

const name = process.argv[2];
if (name === undefined || !benches.includes(name)) {
  console.error(`usage: npm run bench -- NAME [FLAGS]\n${benches.map(describe).join("\n")}`);
  process.exit(name === undefined ? 0 : 2);
}
await import(pathToFileURL(`${here}/${name}.ts`).href);
