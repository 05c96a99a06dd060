import { streamSSE } from "hono/streaming";
import { LIVE_GONE_EVENT } from "../../../templates/components/live-region";
import { ServiceError } from "../../domain/errors";
import { sessionStillUsable } from "../../domain/identity/sessions";
import type { Ctx } from "../../http/env";
import { pageSession } from "../console";

/** What a live view streams (see docs/vms.md, "Live updates in the console"). */
export type LiveSource = {
  /**
   * A cheap fingerprint of everything the view shows (one query), or null once the thing is gone.
   * The stream re-renders only when it changes.
   */
  marker(): Promise<string | null>;
  /** The view's fragment as HTML, swapped into the page by htmx's SSE extension. */
  render(): Promise<string>;
  /** The fragment sent once the thing is gone (or no longer visible); the stream then ends. */
  gone(): Promise<string>;
  /**
   * Whether the viewer may still see what the stream started with, for views whose renders do not
   * check that themselves (the dashboard's set of projects).
   */
  stillVisible?(): Promise<boolean>;
};

/** FNV-1a (32 bits) in base 36 plus the length: a short event id for a marker. */
export function markerVersion(marker: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < marker.length; i++) {
    hash ^= marker.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${hash.toString(36)}.${marker.length.toString(36)}`;
}

/** The query parameter carrying the version the page was rendered at (see `liveStream`). */
export const VERSION_PARAM = "v";

/** `url` with the version of `marker`, so a stream does not resend what the page already shows. */
export function eventsUrl(url: string, marker: string | null): string {
  if (marker === null) return url;
  const glue = url.includes("?") ? "&" : "?";
  return `${url}${glue}${VERSION_PARAM}=${encodeURIComponent(markerVersion(marker))}`;
}

/** Resolves after `ms`, or at once when `signal` aborts (the client went away). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function isGone(err: unknown): boolean {
  return err instanceof ServiceError && err.code === "NOT_FOUND";
}

/**
 * Answers with a server-sent event stream of `source`. There is no pub/sub across isolates, so the
 * stream looks at the marker every `live.checkMs` and sends the re-rendered fragment (its id: the
 * marker's version) only when it changed since what the client has: the `Last-Event-ID` it sends
 * when it reconnects, else the `v` the page was rendered with. A comment every `live.heartbeatMs`
 * keeps proxies from dropping a quiet stream. It ends when the client disconnects and after
 * `live.maxMs` (Workers and proxies cut long responses; the client reconnects). Authorization is
 * the caller's, before this is called; a render that finds the thing gone (NOT_FOUND: deleted, or
 * access revoked) ends the stream with the `gone` fragment. Access is checked again before every
 * render and once per heartbeat period: a session that was signed out, revoked or timed out, or a
 * source that is no longer visible (`stillVisible`), ends the stream the same way.
 */
export function liveStream(c: Ctx, source: LiveSource): Response {
  const { deps } = c.var;
  const { clock, config, log } = deps;
  const sessionId = pageSession(c)?.session.id;
  const { checkMs, heartbeatMs, maxMs } = config.live;
  let known = c.req.header("last-event-id") || c.req.query(VERSION_PARAM) || "";
  // nginx and similar buffer responses unless told otherwise.
  c.header("X-Accel-Buffering", "no");
  return streamSSE(c, async (stream) => {
    const stop = new AbortController();
    stream.onAbort(() => stop.abort());
    c.req.raw.signal?.addEventListener("abort", () => stop.abort(), { once: true });
    const sendGone = async () => {
      await stream.writeSSE({ data: await source.gone() });
      await stream.writeSSE({ event: LIVE_GONE_EVENT, data: "" });
      return "gone" as const;
    };
    const started = clock.now();
    let lastWrite = started;
    let checkedAt = started;
    const mayWatch = async () => {
      checkedAt = clock.now();
      const sessionOk = sessionId === undefined || (await sessionStillUsable(deps, sessionId));
      return sessionOk && ((await source.stillVisible?.()) ?? true);
    };
    const run = async () => {
      while (clock.now() - started < maxMs) {
        if (stop.signal.aborted || stream.aborted) return "disconnected" as const;
        const marker = await source.marker();
        if (marker === null) return sendGone();
        const version = markerVersion(marker);
        const due = version !== known || clock.now() - checkedAt >= heartbeatMs;
        if (due && !(await mayWatch())) {
          await sendGone();
          return "access" as const;
        }
        if (version !== known) {
          await stream.writeSSE({ data: await source.render(), id: version });
          known = version;
          lastWrite = clock.now();
        } else if (clock.now() - lastWrite >= heartbeatMs) {
          await stream.write(": keep-alive\n\n");
          lastWrite = clock.now();
        }
        await pause(checkMs, stop.signal);
      }
      return "lifetime" as const;
    };
    let ended: string;
    try {
      ended = await run();
    } catch (err) {
      if (!isGone(err)) {
        // The client reconnects (with backoff) and polls meanwhile.
        log.error("live stream failed", {
          path: c.req.path,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      ended = isGone(err) ? await sendGone() : "failed";
    }
    log.info("live stream ended", { path: c.req.path, ended, ms: clock.now() - started });
  });
}
