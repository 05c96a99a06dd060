import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { publicJwkSchema } from "../../src/protocol/trust";
import { type AgentKey, agentKeyFromPem, generateAgentKey } from "./identity";

/** What `enroll` leaves in the state directory for `run`. */
const identitySchema = z.object({
  url: z.string().url(),
  host_id: z.string(),
  issuer: z.string(),
  enrolled_at: z.string(),
  /**
   * The trust root pinned at enrollment: trust bundles must verify under it. Changes only with a
   * new enrollment. Absent in state written before trust bundles were signed.
   */
  trust_root: publicJwkSchema.optional(),
});
export type Identity = z.infer<typeof identitySchema>;

export const KEY_FILE = "agent-key.pem";
export const IDENTITY_FILE = "identity.json";
export const JOURNAL_FILE = "journal.db";
/** A key being rotated in: kept until the control plane has taken it, then renamed to KEY_FILE. */
export const NEXT_KEY_FILE = "agent-key.next.pem";

export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Writes a file atomically and durably: a temp file of its own (fsync'd), then a rename (or, with
 * `exclusive`, a link that fails if the file exists), then the directory fsync'd. Keys must
 * survive a power loss right after the control plane was told of them.
 */
function writeAtomic(
  path: string,
  content: string,
  mode: number,
  options: { exclusive?: boolean } = {},
): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  let written = true;
  try {
    if (options.exclusive) linkSync(tmp, path);
    else renameSync(tmp, path);
  } catch (error) {
    if (!options.exclusive || (error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    written = false;
  } finally {
    // After a link (or a failed rename) the temp file is still there.
    rmSync(tmp, { force: true });
  }
  syncDir(dirname(path));
  return written;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A new key for each enrollment; the private key file is 0600 and never leaves the host. */
export async function newKey(dir: string): Promise<AgentKey> {
  const { key, pem } = await generateAgentKey();
  writeAtomic(join(dir, KEY_FILE), pem, 0o600);
  return key;
}

/**
 * The key a rotation started with (reused if one was left behind), written before it is sent.
 * Created exclusively: a rotation running beside `strato-agent rotate-key` sends the same key.
 */
export async function nextKey(dir: string): Promise<AgentKey> {
  const pending = await pendingNextKey(dir);
  if (pending) return pending;
  const { key, pem } = await generateAgentKey();
  if (writeAtomic(join(dir, NEXT_KEY_FILE), pem, 0o600, { exclusive: true })) return key;
  const raced = await pendingNextKey(dir);
  if (!raced) throw new Error("the next key file vanished while it was being written");
  return raced;
}

/** The next key, if a rotation was started and not finished. */
export async function pendingNextKey(dir: string): Promise<AgentKey | undefined> {
  const path = join(dir, NEXT_KEY_FILE);
  return existsSync(path) ? agentKeyFromPem(readFileSync(path, "utf8")) : undefined;
}

/** The control plane has the next key: it becomes the agent's key (one atomic rename). */
export function promoteNextKey(dir: string): void {
  const next = join(dir, NEXT_KEY_FILE);
  // Already promoted when the client had to sign in with it (agent/src/client.ts).
  if (!existsSync(next)) return;
  renameSync(next, join(dir, KEY_FILE));
  syncDir(dir);
}

export async function loadKey(dir: string): Promise<AgentKey> {
  return agentKeyFromPem(readFileSync(join(dir, KEY_FILE), "utf8"));
}

export function saveIdentity(dir: string, identity: Identity): void {
  writeAtomic(join(dir, IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`, 0o600);
}

export function loadIdentity(dir: string): Identity | undefined {
  const path = join(dir, IDENTITY_FILE);
  if (!existsSync(path)) return undefined;
  return identitySchema.parse(JSON.parse(readFileSync(path, "utf8")));
}
