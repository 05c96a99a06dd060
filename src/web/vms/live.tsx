import type { Hono } from "hono";
import { VmGone, VmLive } from "../../../templates/pages/vms/detail";
import { VmRows, VmRowsGone } from "../../../templates/pages/vms/list";
import { getProject } from "../../domain/projects/get-project";
import { getVm } from "../../domain/vms/queries";
import { serviceContext } from "../../http/auth";
import type { AppEnv } from "../../http/env";
import { pageSession, toSignIn } from "../console";
import { liveStream } from "../live/stream";
import { markup } from "../render";
import { vmMarker } from "./live-markers";
import { detailProps, listMarker, listProps } from "./view-models";

/**
 * The event streams of the live VM views (docs/vms.md, "Live updates in the console"). Each is
 * authorized like its page (who may not see the VM or project gets the page's 404) before the
 * stream starts.
 */
export function registerVmLiveStreams(app: Hono<AppEnv>): void {
  app.get("/vms/:vmId/events", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const vm = await getVm(serviceContext(c), c.req.param("vmId"));
    return liveStream(c, {
      marker: () => vmMarker(c.var.deps, vm.id),
      render: async () =>
        markup(
          <VmLive {...(await detailProps(c, vm.id, active.session.csrfToken, active.user.id))} />,
        ),
      gone: async () => markup(<VmGone vmId={vm.id} />),
    });
  });

  app.get("/projects/:projectId/vms/events", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const project = await getProject(serviceContext(c), c.req.param("projectId"));
    // The same filters and page as the list that opened the stream (its query string).
    const first = await listProps(c, project.id);
    return liveStream(c, {
      marker: () => listMarker(c, project.id),
      render: async () => markup(<VmRows {...(await listProps(c, project.id))} />),
      gone: async () => markup(<VmRowsGone pollHref={first.pollHref} />),
    });
  });
}
