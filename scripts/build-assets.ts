/**
 * Copies third-party browser assets from node_modules into public/static/vendor, so every page loads
 * them from our own origin (no CDN). Run by `npm run dev`, `npm start`, tests and deploys.
 */
import { cpSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

const VENDOR: { from: string; files: string[]; to: string }[] = [
  {
    from: dirname(require.resolve("swagger-ui-dist/package.json")),
    files: ["swagger-ui-bundle.js", "swagger-ui.css"],
    to: "swagger-ui",
  },
];

export function buildAssets(): void {
  for (const { from, files, to } of VENDOR) {
    const dir = join(root, "public/static/vendor", to);
    mkdirSync(dir, { recursive: true });
    for (const file of files) cpSync(join(from, file), join(dir, file));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildAssets();
