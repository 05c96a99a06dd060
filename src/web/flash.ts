import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Flash } from "../../templates/components/flash";

export type { Flash };

/**
 * Flash messages: set before a redirect, shown once by the next page. They travel in a short-lived
 * cookie (no server state). The cookie is not signed, so its text is untrusted like any input: it
 * is length-limited here and escaped when rendered.
 */
export const FLASH_COOKIE = "strato_flash";
const MAX_AGE_SECONDS = 60;
const MAX_MESSAGES = 5;
const MAX_MESSAGE_LENGTH = 500;
const KINDS = new Set<Flash["kind"]>(["info", "success", "warning", "error"]);

// Messages set during this request, so several setFlash calls add up and takeFlash sees them.
const pending = new WeakMap<Request, Flash[]>();

function cookieOptions(c: Context) {
  return {
    path: "/",
    httpOnly: true,
    sameSite: "Lax" as const,
    secure: new URL(c.req.url).protocol === "https:",
  };
}

/** Queues a message for the next page the browser shows (call it before a redirect). */
export function setFlash(c: Context, flash: Flash): void {
  const message = flash.message.slice(0, MAX_MESSAGE_LENGTH);
  const list = [...(pending.get(c.req.raw) ?? []), { kind: flash.kind, message }].slice(
    -MAX_MESSAGES,
  );
  pending.set(c.req.raw, list);
  setCookie(c, FLASH_COOKIE, JSON.stringify(list), {
    ...cookieOptions(c),
    maxAge: MAX_AGE_SECONDS,
  });
}

/**
 * Returns the messages the previous response left and clears them, so they show once. Messages set
 * by this same request stay in the cookie for the next page.
 */
export function takeFlash(c: Context): Flash[] {
  const raw = getCookie(c, FLASH_COOKIE);
  if (raw === undefined) return [];
  if (!pending.has(c.req.raw)) deleteCookie(c, FLASH_COOKIE, cookieOptions(c));
  return parseFlashes(raw);
}

function parseFlashes(raw: string): Flash[] {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const flashes: Flash[] = [];
  for (const item of data.slice(0, MAX_MESSAGES)) {
    if (typeof item !== "object" || item === null) continue;
    const { kind, message } = item as Record<string, unknown>;
    if (typeof message !== "string" || !KINDS.has(kind as Flash["kind"])) continue;
    flashes.push({ kind: kind as Flash["kind"], message: message.slice(0, MAX_MESSAGE_LENGTH) });
  }
  return flashes;
}
