import type { Context } from "hono";
import { type Child, Fragment, jsx } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ErrorPanel, type ProblemView } from "../../templates/components/alert";
import type { Flash } from "../../templates/components/flash";
import { AppLayout, type AppLayoutProps } from "../../templates/layouts/app";
import { BareLayout } from "../../templates/layouts/bare";
import { fragmentTitle } from "../../templates/layouts/document";
import { ErrorPageBody } from "../../templates/layouts/error";
import { HX, isPartialRequest, varyOnHtmx } from "../http/htmx";
import { takeFlash } from "./flash";

/** Signed-out pages: no navigation; a CSRF token if the page posts with htmx or fetch. */
export type BareLayoutOptions = {
  bare: true;
  csrfToken?: string | undefined;
  scripts?: readonly string[] | undefined;
};

export type PageLayout = AppLayoutProps | "bare" | BareLayoutOptions;

export type RenderPageOptions = {
  title: string;
  layout: PageLayout;
  body: Child;
  /**
   * What htmx partial requests get instead of `body`, e.g. just the re-rendered form when `body`
   * is the whole page around it.
   */
  fragment?: Child;
  status?: ContentfulStatusCode;
  /** Defaults to the flash messages the previous response left (`takeFlash`). */
  flashes?: readonly Flash[];
};

const DOCTYPE = "<!DOCTYPE html>";

/** Renders children to HTML the way JSX does: strings escaped, arrays concatenated. */
export async function markup(...children: Child[]): Promise<string> {
  return (await jsx(Fragment, null, ...children).toString()).toString();
}

/**
 * Answers a page request: the whole document for normal navigations (and htmx `full` requests
 * such as boosted links and history restores), only the page body for htmx partial requests, which
 * swap it into the page. Either way the response varies by the htmx headers. Flash messages are
 * taken only when a full page shows them.
 */
export async function renderPage(c: Context, options: RenderPageOptions): Promise<Response> {
  varyOnHtmx(c);
  const status = options.status ?? 200;
  if (isPartialRequest(c)) {
    const fragment = "fragment" in options ? options.fragment : options.body;
    return c.html(await markup(fragmentTitle(options.title), fragment), status);
  }
  const flashes = options.flashes ?? takeFlash(c);
  const { title, layout, body } = options;
  const doc =
    layout === "bare" || "bare" in layout
      ? BareLayout({
          title,
          csrfToken: layout === "bare" ? undefined : layout.csrfToken,
          scripts: layout === "bare" ? undefined : layout.scripts,
          flashes,
          children: body,
        })
      : AppLayout({
          ...layout,
          currentPath: layout.currentPath ?? c.req.path,
          title,
          flashes,
          children: body,
        });
  return c.html(`${DOCTYPE}${await doc}`, status);
}

/** Answers with a fragment only (a table row, a re-rendered form), varying by the htmx headers. */
export async function renderFragment(
  c: Context,
  body: Child,
  status: ContentfulStatusCode = 200,
): Promise<Response> {
  varyOnHtmx(c);
  return c.html(await markup(body), status);
}

/**
 * A problem for people. htmx partial requests get the error panel, retargeted into the page's
 * flash region (so a failed action does not replace the element that triggered it); everything
 * else gets a whole error page. Same status as the problem document would have.
 */
export async function renderProblemPage(c: Context, problem: ProblemView): Promise<Response> {
  const status = problem.status as ContentfulStatusCode;
  if (isPartialRequest(c)) {
    c.header(HX.retarget, "#flash-region");
    c.header(HX.reswap, "innerHTML");
    return renderFragment(c, ErrorPanel({ problem }), status);
  }
  const body = ErrorPageBody({ problem });
  return renderPage(c, { title: problem.title, layout: "bare", body, status, flashes: [] });
}
