/**
 * `npm run bench -- NAME` runs bench/NAME.ts. Each bench prints its figures and ends with one JSON
 * line of them, so CI or a person can compare runs. `npm run bench` lists the benches.
 */
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();

const name = process.argv[2];
if (name === undefined || !benches.includes(name)) {
  console.error(`usage: npm run bench -- NAME   (NAME: ${benches.join(", ")})`);
  process.exit(name === undefined ? 0 : 2);
}
await import(pathToFileURL(`${here}/${name}.ts`).href);
