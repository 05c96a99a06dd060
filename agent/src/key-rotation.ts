import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { keyRotationResponseSchema } from "../../src/protocol/agent-api";
import { type ControlPlaneClient, ControlPlaneError } from "./client";
import { keyRotationProof } from "./identity";
import type { AgentLog } from "./log";
import { KEY_FILE, loadKey, NEXT_KEY_FILE, nextKey, pendingNextKey, promoteNextKey } from "./state";

const DAY_MS = 86_400_000;
/** How often a running agent checks its key's age. */
const CHECK_EVERY_MS = 3_600_000;
/** The first check after start, once the agent has had time to be approved. */
const FIRST_CHECK_MS = 5_000;

/**
 * Design §2.8: the agent replaces its key every `days` days without enrolling again. The new key
 * is written first (0600, `agent-key.next.pem`), then sent with a proof (`POST /keys`, over an
 * access token of the current key), and becomes the agent's key only once the control plane has
 * answered. A lost answer leaves the next key behind: the next attempt sends the same key (the
 * control plane answers the same), and if the control plane already refuses the old key, the
 * client signs in with the next one (client.ts).
 */
export async function rotateKey(
  client: ControlPlaneClient,
  dir: string,
  log: AgentLog,
): Promise<void> {
  const id = client.identity;
  if (!id) throw new Error("not enrolled");
  const next = await nextKey(dir);
  const proof = await keyRotationProof(next, id.hostId, id.key, client.now());
  const reply = await client.send("POST", "/keys", {
    body: { public_jwk: next.publicJwk, proof },
  });
  const answer = keyRotationResponseSchema.parse(reply.body);
  promoteNextKey(dir);
  client.identity = { ...id, key: next };
  log.info("agent key rotated", {
    thumbprint: next.thumbprint,
    previousKeyNotAfter: answer.previous_key_not_after,
  });
}

/**
 * Keys the client may sign in with when the control plane refuses its current one: the next key
 * of an unfinished rotation (kept once accepted), and the key file itself, which
 * `strato-agent rotate-key` may have replaced beside a running agent.
 */
export function armKeyFallback(client: ControlPlaneClient, dir: string): void {
  if (!client.identity) return;
  client.identity = {
    ...client.identity,
    fallback: async () => {
      const candidates = [];
      const pending = await pendingNextKey(dir);
      if (pending) candidates.push({ key: pending, onAccepted: () => promoteNextKey(dir) });
      candidates.push({ key: await loadKey(dir), onAccepted: () => {} });
      return candidates;
    },
  };
}

/** Whether the key is due: older than `days` (0 = never), or a rotation was left unfinished. */
function due(dir: string, days: number): boolean {
  if (existsSync(join(dir, NEXT_KEY_FILE))) return true;
  if (days === 0) return false;
  return Date.now() - statSync(join(dir, KEY_FILE)).mtimeMs > days * DAY_MS;
}

/** Checks the key's age soon after start and then hourly; rotates when due. Returns a stop. */
export function scheduleKeyRotation(
  client: ControlPlaneClient,
  dir: string,
  log: AgentLog,
  days: number,
): () => void {
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      // Inside the try: an unreadable key file is logged, not an unhandled rejection.
      if (!due(dir, days)) return;
      await rotateKey(client, dir, log);
    } catch (error) {
      // Not approved yet, or the control plane is away: the next check tries again.
      const code = error instanceof ControlPlaneError ? error.code : undefined;
      log.warn("agent key rotation failed; will retry", { error: String(error), code });
    } finally {
      busy = false;
    }
  };
  const first = setTimeout(() => void check(), FIRST_CHECK_MS);
  const every = setInterval(() => void check(), CHECK_EVERY_MS);
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
