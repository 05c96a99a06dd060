import type { Context } from "hono";

/**
 * Every htmx header name, in one place. These are htmx 4's (checked against node_modules/htmx.org
 * 4.0.1): it sends `HX-Request-Type: partial` when the response will be swapped into part of the
 * page and `full` when it replaces the body (boosted navigation, history restore), and renamed
 * htmx 2's `HX-Trigger` request header to `HX-Source`.
 */
export const HX = {
  /** Request: "true" on every request htmx makes (also history restores). */
  request: "HX-Request",
  /** Request: "partial" (swap into an element) or "full" (replaces the body). */
  requestType: "HX-Request-Type",
  /** Request: the element that triggered the request, as `tag#id`. */
  source: "HX-Source",
  /** Request: the swap target, as `tag#id`. */
  target: "HX-Target",
  /** Request: the page URL the request was made from. */
  currentUrl: "HX-Current-URL",
  /** Request: "true" for hx-boost requests. */
  boosted: "HX-Boosted",
  /** Request: "true" when htmx restores history after a cache miss. */
  historyRestoreRequest: "HX-History-Restore-Request",
  /** Response: full page navigation to this URL. */
  redirect: "HX-Redirect",
  /** Response: htmx GETs this URL (HCON/JSON or a path) and swaps it in, pushing history. */
  location: "HX-Location",
  /** Response: "true" reloads the page. */
  refresh: "HX-Refresh",
  /** Response: push or replace this URL in the history. */
  pushUrl: "HX-Push-Url",
  replaceUrl: "HX-Replace-Url",
  /** Response: events to trigger client-side (a name or a JSON object). */
  trigger: "HX-Trigger",
  /** Response: override the target (CSS selector), swap style or selection of the response. */
  retarget: "HX-Retarget",
  reswap: "HX-Reswap",
  reselect: "HX-Reselect",
} as const;

/**
 * Responses that differ by these headers must say so, so caches keep full pages and fragments
 * apart.
 */
export const HTMX_VARY = `${HX.request}, ${HX.requestType}`;

/** Any Hono context: these helpers only read request headers and set response headers. */
type AnyContext = Context;

/** The request was made by htmx (any kind: partial swap, boosted navigation, history restore). */
export function isHtmxRequest(c: AnyContext): boolean {
  return c.req.header(HX.request) === "true";
}

/**
 * htmx will swap the response into part of the page, so it wants a fragment rather than a whole
 * document. (htmx 4 sends `full` for boosted navigations and history restores, which need the
 * document.)
 */
export function isPartialRequest(c: AnyContext): boolean {
  return isHtmxRequest(c) && c.req.header(HX.requestType) === "partial";
}

/** Marks a response as varying by the htmx request headers. */
export function varyOnHtmx(c: AnyContext): void {
  c.header("Vary", HTMX_VARY, { append: true });
}

/**
 * Sends the browser to `url` after a form post: for htmx a `HX-Redirect` (a full navigation, so
 * the next page loads its own head and flash), otherwise `303 See Other` (the browser GETs it).
 * A 303 would not work for htmx, because fetch follows it silently and htmx would swap the target
 * page into the form's target.
 */
export function htmxRedirect(c: AnyContext, url: string): Response {
  varyOnHtmx(c);
  if (isHtmxRequest(c)) {
    c.header(HX.redirect, url);
    return c.body(null, 204);
  }
  return c.redirect(url, 303);
}
