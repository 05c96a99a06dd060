import { z } from "zod";

/**
 * The WebSocket doorbell (design §2.13), shared by the control plane and the agent. The socket
 * carries no authority and no work: a ring only tells the agent to claim over HTTPS.
 */

/** `GET` with `Upgrade: websocket`, agent access token in `Authorization: Bearer`. */
export const DOORBELL_PATH = "/connect";

/** Text the agent sends to keep the socket alive; answered with PONG without waking the DO. */
export const DOORBELL_PING = "ping";
export const DOORBELL_PONG = "pong";
/** The agent pings this often (design §2.12). */
export const DOORBELL_PING_INTERVAL_MS = 10_000;
/**
 * A socket not heard from (connected or pinged) for this long no longer holds the host's session,
 * so another boot id may take it over (design §2.13: "pinged within 30 s").
 */
export const DOORBELL_LIVE_MS = 30_000;

/** Close codes the control plane uses (private range 4000-4999). */
export const DOORBELL_CLOSE = {
  /** A newer socket from the same boot replaced this one. */
  replaced: 4000,
  /** A socket from another boot took over a session that had gone quiet. */
  superseded: 4001,
  /** The host may no longer work (rejected, disabled or revoked): its next request says why. */
  hungUp: 4003,
} as const;

/** `boot_id` query parameter: one per boot of the host, so a reconnect replaces its old socket. */
export const bootIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[0-9A-Za-z_-]+$/);

/** Work above `latest_seq` may exist: claim. */
export const ringMessageSchema = z.object({
  type: z.literal("ring"),
  latest_seq: z.number().int().nonnegative(),
});
export type RingMessage = z.infer<typeof ringMessageSchema>;

/**
 * An item this host holds or runs was cancelled (design §2.13 `{t:"cancel",id}`): renew that item,
 * whose answer says so. Like a ring it carries no authority: the renewal decides.
 */
export const cancelMessageSchema = z.object({
  type: z.literal("cancel"),
  item_id: z.string().min(1).max(64),
});
export type CancelMessage = z.infer<typeof cancelMessageSchema>;

/** What the control plane sends on the socket (besides "pong"). */
export const doorbellMessageSchema = z.discriminatedUnion("type", [
  ringMessageSchema,
  cancelMessageSchema,
]);

export function ringMessage(latestSeq: number): string {
  return JSON.stringify({ type: "ring", latest_seq: latestSeq } satisfies RingMessage);
}

export function cancelMessage(itemId: string): string {
  return JSON.stringify({ type: "cancel", item_id: itemId } satisfies CancelMessage);
}
