import { eq } from "drizzle-orm";
import { settings } from "../../db/schema";
import type { Deps } from "../../deps";
import { constantTimeEqual, sha256Hex } from "../../lib/secrets";
import { countUsers } from "./users";

/**
 * The one-time set-up code of a fresh installation: whoever presents it first becomes platform
 * admin. Printed by the server (and `npm run dev`) at start while nobody has an account; stored
 * only as a hash, replaced at every start, and deleted by the set-up that uses it.
 */
const SETUP_KEY = "setup_code";
const ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789";

type StoredCode = { hash: string; createdAt: number };

/** Issues a new code if the installation has no account yet; returns it (to print) or null. */
export async function ensureSetupCode(
  deps: Pick<Deps, "db" | "random" | "clock">,
): Promise<string | null> {
  if ((await countUsers(deps)) > 0) return null;
  const chars = [...deps.random.bytes(20)].map((b) => ALPHABET.charAt(b % ALPHABET.length));
  const code = [0, 5, 10, 15].map((i) => chars.slice(i, i + 5).join("")).join("-");
  const value: StoredCode = { hash: await sha256Hex(code), createdAt: deps.clock.now() };
  const updatedAt = deps.clock.now();
  await deps.db
    .insert(settings)
    .values({ key: SETUP_KEY, value, updatedAt })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt } });
  return code;
}

/** Whether `code` is the current set-up code (case and dashes forgiven: people type it). */
export async function setupCodeMatches(deps: Deps, code: string): Promise<boolean> {
  const [row] = await deps.db.select().from(settings).where(eq(settings.key, SETUP_KEY)).limit(1);
  if (!row) return false;
  const stored = row.value as StoredCode;
  const normalised = code
    .trim()
    .toUpperCase()
    .replaceAll(/[^A-Z0-9]/g, "");
  const canonical = normalised.match(/.{1,5}/g)?.join("-") ?? "";
  return constantTimeEqual(await sha256Hex(canonical), stored.hash);
}

/** Takes the code away for good; returns false if another set-up got there first. */
export async function consumeSetupCode(deps: Deps): Promise<boolean> {
  const gone = await deps.db.delete(settings).where(eq(settings.key, SETUP_KEY)).returning();
  return gone.length > 0;
}
