import type { Child } from "hono/jsx";
import { cx } from "../components/cx";
import { assets } from "./assets";

export type DocumentProps = {
  title: string;
  /** Sent by app.js as X-CSRF-Token on every htmx request. */
  csrfToken?: string | undefined;
  /** Extra scripts for this page (same origin), loaded after htmx and app.js. */
  scripts?: readonly string[] | undefined;
  bodyClass?: string;
  children: Child;
};

/**
 * htmx settings. It would otherwise inject its indicator styles at runtime; styles.css has them,
 * so every style stays in our stylesheet.
 */
const HTMX_CONFIG = JSON.stringify({ includeIndicatorCSS: false });

/** The HTML document around every console page: head, our stylesheet and scripts (no inline code). */
export function Document(props: DocumentProps) {
  const urls = assets();
  return (
    <html lang="en" class="h-full bg-gray-50">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title === "Strato" ? "Strato" : `${props.title} · Strato`}</title>
        {props.csrfToken !== undefined ? (
          <meta name="csrf-token" content={props.csrfToken} />
        ) : null}
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href={urls.css} />
        <script src={urls.htmx} defer />
        {/* Right after htmx, which processes the page once these deferred scripts have run. */}
        <script src={urls.htmxSse} defer />
        <script src={urls.app} defer />
        {(props.scripts ?? []).map((src) => (
          <script src={src} defer />
        ))}
      </head>
      <body class={cx("h-full text-gray-900 antialiased", props.bodyClass)}>{props.children}</body>
    </html>
  );
}

/** The page title as a fragment's `<title>`: htmx 4 moves it into the document when swapping. */
export function fragmentTitle(title: string) {
  return <title>{title === "Strato" ? "Strato" : `${title} · Strato`}</title>;
}
