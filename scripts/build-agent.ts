/**
 * `npm run build:agent`: bundles strato-agent into one ES module, `dist/strato-agent.mjs`, runnable
 * with `node` (>= 22.5, for node:sqlite) and no node_modules, for hosts that get a file rather
 * than this repository. The bundled agent runs a real `cloud-hypervisor` (on PATH with /dev/kvm,
 * or CLOUD_HYPERVISOR_BIN); the simulator stays a development tool of the repository.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "dist", "strato-agent.mjs");
mkdirSync(dirname(outfile), { recursive: true });
await build({
  entryPoints: [join(root, "agent", "src", "main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  sourcemap: "inline",
  legalComments: "inline",
  // Bundled CommonJS dependencies still call require() for Node built-ins.
  banner: {
    js: [
      "#!/usr/bin/env node",
      "import { createRequire as __createRequire } from 'node:module';",
      "const require = __createRequire(import.meta.url);",
    ].join("\n"),
  },
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
console.log(`built ${outfile}`);
