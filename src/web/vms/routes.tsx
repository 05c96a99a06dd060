import type { Hono } from "hono";
import {
  DeleteVmPage,
  VmDetailPage,
  type VmDetailProps,
  VmLive,
} from "../../../templates/pages/vms/detail";
import { NoProjectPage, VmListPage, VmRows } from "../../../templates/pages/vms/list";
import {
  NewVmPage,
  PlacementPanel,
  type PlacementPreview,
  VmForm,
  type VmFormProps,
} from "../../../templates/pages/vms/new";
import { ServiceError } from "../../domain/errors";
import { getHost } from "../../domain/hosts/list-hosts";
import type { ActiveSession } from "../../domain/identity/sessions";
import { listImages } from "../../domain/images/images";
import { orgRef, projectRef } from "../../domain/orgs/shared";
import { getProject } from "../../domain/projects/get-project";
import { cancelOperation } from "../../domain/vms/cancel-operation";
import { changeVmState, type VmAction } from "../../domain/vms/change-state";
import { createVm } from "../../domain/vms/create-vm";
import { placeInOrg } from "../../domain/vms/placement";
import { getVm } from "../../domain/vms/queries";
import { getProjectQuota, quotaShortfall } from "../../domain/vms/quotas";
import { SIZE_PRESETS } from "../../domain/vms/schemas";
import { vmRef } from "../../domain/vms/shared";
import { authorize, serviceContext } from "../../http/auth";
import type { AppEnv, Ctx } from "../../http/env";
import { htmxRedirect, isPartialRequest } from "../../http/htmx";
import { consoleLayout, pageSession, toSignIn } from "../console";
import { setFlash } from "../flash";
import { emptyForm, formFailure, readForm } from "../forms";
import { eventsUrl } from "../live/stream";
import { renderFragment, renderPage } from "../render";
import { parseVmForm, quotaView, sizeFromForm } from "./form";
import { registerVmLiveStreams } from "./live";
import { vmMarker } from "./live-markers";
import { isVmAction, may } from "./shared";
import { detailProps, listMarker, listProps } from "./view-models";

const ACTION_DONE: Record<VmAction, string> = {
  start: "Starting",
  stop: "Stopping",
  restart: "Restarting",
  pause: "Pausing",
  resume: "Resuming",
  delete: "Deleting",
};

/** Where the VM would be placed with the size in the form (preview only: create re-checks). */
async function preview(
  c: Ctx,
  projectId: string,
  orgId: string,
  values: Record<string, string>,
): Promise<PlacementPreview> {
  const size = sizeFromForm(values);
  if (!size) return { ok: null, detail: "Enter a valid size to see where the VM would run." };
  const sc = serviceContext(c);
  const { limits, usage } = await getProjectQuota(sc, projectId);
  const over = quotaShortfall(limits, usage, { vms: 1, ...size });
  if (over) {
    return {
      ok: false,
      scope: "quota",
      detail: `The project's ${over.resource} quota is ${over.limit}; ${over.used} in use, ${over.requested} requested.`,
    };
  }
  const placement = await placeInOrg(c.var.deps, orgId, size);
  if (!placement.ok) return { ok: false, scope: placement.scope, detail: placement.detail };
  const named = await may(c, orgRef(orgId), "view_hosts");
  const host = named ? await getHost(c.var.deps, placement.hostId) : undefined;
  return { ok: true, host: host?.name ?? "an available host of the organization" };
}

async function formProps(c: Ctx, projectId: string, csrfToken: string, form: VmFormProps["form"]) {
  const sc = serviceContext(c);
  const project = await getProject(sc, projectId);
  const images = (await listImages(sc, project.orgId)).filter(
    (i) => i.projectId === null || i.projectId === projectId,
  );
  const values = { ...form.values };
  values.imageId ??= images[0]?.id ?? "";
  const { limits, usage } = await getProjectQuota(sc, projectId);
  return {
    project: { id: project.id, name: project.name },
    images: images.map((i) => ({ id: i.id, name: i.name, minDiskGb: i.minDiskGb })),
    presets: SIZE_PRESETS,
    csrfToken,
    form: { ...form, values },
    preview: await preview(c, projectId, project.orgId, values),
    quota: quotaView(limits, usage),
  };
}

/** The console layout of a VM page: "VMs" is the current section of the navigation. */
async function vmLayout(c: Ctx, active: ActiveSession, projectId: string) {
  return {
    ...(await consoleLayout(c, active, { currentProjectId: projectId })),
    currentPath: "/vms",
  };
}

/** The VM pages: list, create (with placement preview), detail with actions, delete, quota. */
export function registerVmPages(app: Hono<AppEnv>): void {
  registerVmLiveStreams(app);
  app.get("/vms", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    // The switcher's data: the current organization and its projects the user may see.
    const layout = await consoleLayout(c, active);
    const first = layout.switcher?.projects?.[0];
    if (first) return c.redirect(`/projects/${first.id}/vms`, 303);
    const orgId = layout.switcher?.currentOrgId;
    return renderPage(c, {
      title: "VMs",
      layout,
      body: <NoProjectPage createProjectHref={orgId ? `/orgs/${orgId}/projects/new` : null} />,
    });
  });

  app.get("/projects/:projectId/vms", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const projectId = c.req.param("projectId");
    // Read before the rows, so a change in between is sent by the stream rather than lost.
    const marker = isPartialRequest(c) ? null : await listMarker(c, projectId);
    const props = await listProps(c, projectId);
    // The rows alone for htmx (the fallback poll); the whole page otherwise.
    if (isPartialRequest(c)) return renderFragment(c, <VmRows {...props} />);
    return renderPage(c, {
      title: `VMs · ${props.project.name}`,
      layout: await vmLayout(c, active, projectId),
      body: <VmListPage {...props} eventsHref={eventsUrl(props.eventsHref, marker)} />,
    });
  });

  app.get("/projects/:projectId/vms/new", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const projectId = c.req.param("projectId");
    // The form is for those who may create; others get 403 (or 404 if they cannot see it).
    await authorize(c, projectRef(projectId), "create_vm");
    const preset = SIZE_PRESETS[0];
    const props = await formProps(
      c,
      projectId,
      active.session.csrfToken,
      emptyForm({
        size: preset.id,
        vcpus: String(preset.vcpus),
        memoryMb: String(preset.memoryMb),
        diskGb: String(preset.diskGb),
      }),
    );
    return renderPage(c, {
      title: "Create a VM",
      layout: await vmLayout(c, active, projectId),
      body: <NewVmPage {...props} />,
    });
  });

  app.get("/projects/:projectId/vms/placement", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const projectId = c.req.param("projectId");
    const project = await getProject(serviceContext(c), projectId);
    await authorize(c, projectRef(projectId), "create_vm");
    const values: Record<string, string> = {};
    for (const name of ["size", "vcpus", "memoryMb", "diskGb"]) {
      const v = c.req.query(name);
      if (v !== undefined) values[name] = v;
    }
    return renderFragment(
      c,
      <PlacementPanel
        projectId={projectId}
        preview={await preview(c, projectId, project.orgId, values)}
      />,
    );
  });

  app.post("/projects/:projectId/vms", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const projectId = c.req.param("projectId");
    const values = await readForm(c);
    // Who may not create hears so before anything about their input.
    await authorize(c, projectRef(projectId), "create_vm");
    try {
      const input = parseVmForm(values);
      const { vm } = await createVm(serviceContext(c), projectId, input, null);
      setFlash(c, { kind: "success", message: `VM ${vm.name} is being created.` });
      return htmxRedirect(c, `/vms/${vm.id}`);
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      const props = await formProps(c, projectId, active.session.csrfToken, failed.state);
      return renderPage(c, {
        title: "Create a VM",
        layout: await vmLayout(c, active, projectId),
        body: <NewVmPage {...props} />,
        fragment: <VmForm {...props} />,
        status: failed.status,
      });
    }
  });

  app.get("/vms/:vmId", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const vmId = c.req.param("vmId");
    // Read before the panel, so a change in between is sent by the stream rather than lost.
    const marker = isPartialRequest(c) ? null : await vmMarker(c.var.deps, vmId);
    let props: VmDetailProps;
    try {
      props = await detailProps(c, vmId, active.session.csrfToken, active.user.id);
    } catch (err) {
      // The page polls while a delete runs; once the VM is gone it leaves for the VM list.
      if (!isPartialRequest(c) || !(err instanceof ServiceError) || err.code !== "NOT_FOUND") {
        throw err;
      }
      setFlash(c, { kind: "info", message: "That VM no longer exists." });
      return htmxRedirect(c, "/vms");
    }
    if (isPartialRequest(c)) return renderFragment(c, <VmLive {...props} />);
    return renderPage(c, {
      title: props.vm.name,
      layout: await vmLayout(c, active, props.vm.project.id),
      body: <VmDetailPage {...props} eventsUrl={eventsUrl(`/vms/${vmId}/events`, marker)} />,
    });
  });

  app.get("/vms/:vmId/delete", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const vm = await getVm(serviceContext(c), c.req.param("vmId"));
    await authorize(c, vmRef(vm.id), "delete");
    return renderPage(c, {
      title: `Delete ${vm.name}`,
      layout: await vmLayout(c, active, vm.projectId),
      body: <DeleteVmPage vm={{ id: vm.id, name: vm.name }} csrfToken={active.session.csrfToken} />,
    });
  });

  app.post("/vms/:vmId/operations/:operationId/cancel", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const vmId = c.req.param("vmId");
    try {
      const op = await cancelOperation(serviceContext(c), c.req.param("operationId"));
      setFlash(c, {
        kind: "success",
        message:
          op.status === "cancelled"
            ? `${op.kind} cancelled.`
            : `Cancelling ${op.kind}: its host stops it at the next safe point.`,
      });
    } catch (err) {
      // An operation that finished meanwhile is a message; 403/404 become error pages.
      if (!(err instanceof ServiceError) || err.code !== "CONFLICT") throw err;
      setFlash(c, { kind: "error", message: err.message });
    }
    return htmxRedirect(c, `/vms/${vmId}`);
  });

  app.post("/vms/:vmId/:action", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const vmId = c.req.param("vmId");
    const action = c.req.param("action");
    if (!isVmAction(action)) throw new ServiceError("NOT_FOUND", `No action ${action}.`);
    const sc = serviceContext(c);
    try {
      const { vm } = await changeVmState(sc, vmId, action, null);
      setFlash(c, { kind: "success", message: `${ACTION_DONE[action]} ${vm.name}.` });
      if (action === "delete") return htmxRedirect(c, `/projects/${vm.projectId}/vms`);
    } catch (err) {
      // Refusals about the VM's state come back as a message; 403/404 become error pages.
      if (!(err instanceof ServiceError) || err.code !== "CONFLICT") throw err;
      setFlash(c, { kind: "error", message: err.message });
    }
    return htmxRedirect(c, `/vms/${vmId}`);
  });
}
