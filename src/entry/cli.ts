/**
 * `strato`: the operator's command line for a self-hosted control plane.
 *   strato authz validate FILE.yaml…   run Permify validation files against the embedded engine
 *   strato db migrate                  apply pending migrations to DATABASE_URL
 *   strato setup-code                  issue the one-time set-up code of a fresh installation
 *   strato trust root-key | sign …     make the trust root and sign trust bundles offline
 */
import { ConfigError, parseConfig } from "../config";
import { ensureSetupCode } from "../domain/identity/setup-code";
import { systemClock } from "../lib/clock";
import { cryptoRandom } from "../lib/random";
import { authzValidate } from "../node/cli/authz-validate";
import { trustCommand } from "../node/cli/trust";
import { openNodeDatabase } from "../node/database";
import { applyMigrations } from "../node/migrate";

const USAGE = `usage:
  strato authz validate [--expect-error ID]... FILE.yaml [FILE...]
  strato db migrate
  strato setup-code
  strato trust root-key [--out FILE]
  strato trust sign --root-key FILE --version N --key FILE[@NOT_AFTER]... [--revoke KID]...
Environment: DATABASE_URL (default file:.data/strato.db), DATABASE_AUTH_TOKEN.`;

function database() {
  const config = parseConfig({ DATABASE_URL: "file:.data/strato.db", ...process.env }, "node");
  return { config, db: openNodeDatabase(config.databaseUrl, config.databaseAuthToken) };
}

async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group === "authz" && command === "validate") return authzValidate(rest);
  if (group === "trust") return trustCommand(argv.slice(1));
  if (group === "db" && command === "migrate") {
    const { config, db } = database();
    await applyMigrations(db);
    db.$client.close();
    // Credentials in the URL stay out of terminals and CI logs.
    console.log(`Migrations applied to ${config.databaseUrl.replace(/\/\/[^@/]*@/, "//…@")}`);
    return 0;
  }
  if (group === "setup-code" && command === undefined) {
    const { db } = database();
    const code = await ensureSetupCode({ db, random: cryptoRandom, clock: systemClock });
    db.$client.close();
    if (code === null) {
      console.error("This installation already has accounts; sign in and invite people instead.");
      return 1;
    }
    console.log(code);
    return 0;
  }
  console.error(USAGE);
  return group === undefined || group === "help" || group === "--help" ? 0 : 2;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exitCode = 1;
}
