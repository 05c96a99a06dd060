/** `npm run db:migrate`: the same as `strato db migrate` (src/entry/cli.ts). */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../bin/strato", import.meta.url));
process.exitCode = spawnSync(cli, ["db", "migrate"], { stdio: "inherit" }).status ?? 1;
