import type { Child } from "hono/jsx";

/** The named event that ends a live stream for good (after a last fragment saying why). */
export const LIVE_GONE_EVENT = "gone";

/**
 * Where a live view's updates arrive: htmx's SSE extension (hx-sse.js) connects to `eventsUrl`
 * and swaps each message into this element; the `gone` event closes the stream without
 * reconnecting. `data-live-stream` is app.js's record of whether the stream is open: polling inside
 * (`data-poll-fallback`) runs only while it is not.
 */
export function LiveRegion(props: { id: string; eventsUrl: string; children: Child }) {
  const stream = { "hx-sse:connect": props.eventsUrl, "hx-sse:close": LIVE_GONE_EVENT };
  return (
    <div id={props.id} {...stream} data-live-stream="closed">
      {props.children}
    </div>
  );
}
