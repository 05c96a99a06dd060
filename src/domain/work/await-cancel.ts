import type { Deps } from "../../deps";
import { silentWakeup } from "../../wakeup/wakeup";
import { loadHostItem } from "./load-item";

/** No seq is above this, so no ring ends the wait: only a cancellation or the timeout. */
const NO_RING = Number.MAX_SAFE_INTEGER;

/**
 * The long poll of an agent running `itemId` while its claim loop waits for it: true once the item
 * is cancelled, at once if it already is (the database decides first, so a cancellation sent
 * before the poll began is not missed), false after `timeoutMs`. Another host's item is a 404.
 */
export async function awaitCancel(
  deps: Deps,
  hostId: string,
  itemId: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const item = await loadHostItem(deps, hostId, itemId);
  if (item.cancelRequestedAt !== null) return true;
  const wakeup = deps.wakeup ?? silentWakeup;
  // Real time, like the doorbell's own timers.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) return false;
    const news = await wakeup.wait(hostId, NO_RING, left, signal);
    if (news === undefined) return false;
    // Another item's cancellation: that one is its own poll's (or renewal's) news.
    if (news.kind === "cancel" && news.itemId === itemId) return true;
  }
}
