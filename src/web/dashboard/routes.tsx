import type { Context, Hono } from "hono";
import { DashboardLive, DashboardPage } from "../../../templates/pages/dashboard/dashboard";
import type { ActiveSession } from "../../domain/identity/sessions";
import type { AppEnv } from "../../http/env";
import { isPartialRequest } from "../../http/htmx";
import { consoleLayout, pageSession, toSignIn } from "../console";
import { eventsUrl, liveStream } from "../live/stream";
import { markup, renderPage } from "../render";
import { dashboardMarker } from "./live-marker";
import { dashboardProps, dashboardScope } from "./view-model";

const EVENTS_PATH = "/dashboard/events";

/** The signed-in landing page (`/`); anonymous visitors are sent on by the caller. */
export async function renderDashboard(c: Context<AppEnv>, active: ActiveSession) {
  const layout = await consoleLayout(c, active);
  const scope = await dashboardScope(c, layout);
  // Read before the cards, so a change in between is sent by the stream rather than lost.
  const marker = isPartialRequest(c) ? null : await dashboardMarker(c.var.deps, scope);
  const props = await dashboardProps(c, active, layout, scope);
  return renderPage(c, {
    title: "Dashboard",
    layout,
    body: <DashboardPage {...props} eventsUrl={eventsUrl(EVENTS_PATH, marker)} />,
    // The fallback poll swaps the changing cards only.
    fragment: <DashboardLive {...props} />,
  });
}

/** The dashboard's event stream: its cards again whenever their data changes. */
export function registerDashboardStream(app: Hono<AppEnv>): void {
  app.get(EVENTS_PATH, async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    // Who sees what is settled when the stream starts; a change ends the stream (the page then
    // reloads its cards), and it is renewed with each reconnection.
    const layout = await consoleLayout(c, active);
    const scope = await dashboardScope(c, layout);
    const seen = JSON.stringify(scope);
    return liveStream(c, {
      stillVisible: async () =>
        JSON.stringify(await dashboardScope(c, await consoleLayout(c, active))) === seen,
      marker: () => dashboardMarker(c.var.deps, scope),
      render: async () =>
        markup(<DashboardLive {...(await dashboardProps(c, active, layout, scope))} />),
      gone: async () =>
        markup(<p class="text-sm text-gray-600">Reload the page to see the latest.</p>),
    });
  });
}
