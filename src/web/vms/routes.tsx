import type { Hono } from "hono";
import {
  DeleteVmPage,
  VmDetailPage,
  type VmDetailProps,
  VmLive,
} from "../../../templates/pages/vms/detail";
import {
  NoProjectPage,
  VmListPage,
  type VmListProps,
  VmRows,
} from "../../../templates/pages/vms/list";
import {
  NewVmPage,
  PlacementPanel,
  type PlacementPreview,
  VmForm,
  type VmFormProps,
} from "../../../templates/pages/vms/new";
import type { VmTelemetryView } from "../../../templates/pages/vms/telemetry";
import { OBSERVED_STATES, type ObservedState } from "../../db/schema";
import { ServiceError } from "../../domain/errors";
import { getHost } from "../../domain/hosts/list-hosts";
import type { ActiveSession } from "../../domain/identity/sessions";
import { listImages, loadImage } from "../../domain/images/images";
import { orgRef, projectRef } from "../../domain/orgs/shared";
import { getProject } from "../../domain/projects/get-project";
import { changeVmState, type VmAction } from "../../domain/vms/change-state";
import { createVm } from "../../domain/vms/create-vm";
import type { OperationRow } from "../../domain/vms/operations";
import { placeInOrg } from "../../domain/vms/placement";
import { getVm, listVmOperations, listVms } from "../../domain/vms/queries";
import { getProjectQuota, quotaShortfall } from "../../domain/vms/quotas";
import { SIZE_PRESETS } from "../../domain/vms/schemas";
import { vmRef } from "../../domain/vms/shared";
import { vmActivity, vmTelemetry } from "../../domain/vms/telemetry";
import { authorize, serviceContext } from "../../http/auth";
import type { AppEnv, Ctx } from "../../http/env";
import { htmxRedirect, isPartialRequest } from "../../http/htmx";
import { consoleLayout, formatTime, pageSession, toSignIn } from "../console";
import { setFlash } from "../flash";
import { emptyForm, formFailure, readForm } from "../forms";
import { renderFragment, renderPage } from "../render";
import { parseVmForm, quotaView, sizeFromForm } from "./form";
import { ACTION_FROM, formatMemory, isVmAction, may, TRANSITIONAL, VM_ACTIONS } from "./shared";
import { activityCharts } from "./telemetry";

const PAGE_SIZE = 25;

const ACTION_LABEL: Record<VmAction, string> = {
  start: "Start",
  stop: "Stop",
  restart: "Restart",
  pause: "Pause",
  resume: "Resume",
  delete: "Delete…",
};

const ACTION_DONE: Record<VmAction, string> = {
  start: "Starting",
  stop: "Stopping",
  restart: "Restarting",
  pause: "Pausing",
  resume: "Resuming",
  delete: "Deleting",
};

function isObservedState(value: string): value is ObservedState {
  return (OBSERVED_STATES as readonly string[]).includes(value);
}

type ListQuery = { state: string; q: string; limit: number; cursor?: string };

function listHref(projectId: string, query: ListQuery) {
  const params = new URLSearchParams();
  if (query.state) params.set("state", query.state);
  if (query.q) params.set("q", query.q);
  if (query.limit !== PAGE_SIZE) params.set("limit", String(query.limit));
  if (query.cursor) params.set("cursor", query.cursor);
  const search = params.toString();
  return `/projects/${projectId}/vms${search ? `?${search}` : ""}`;
}

/** The list page's data: the domain's page of VMs plus the links around it. */
async function listProps(c: Ctx, projectId: string): Promise<VmListProps> {
  const sc = serviceContext(c);
  const project = await getProject(sc, projectId);
  const rawState = c.req.query("state") ?? "";
  const state = isObservedState(rawState) ? rawState : "";
  const q = (c.req.query("q") ?? "").trim().slice(0, 63);
  const cursor = c.req.query("cursor") || undefined;
  const asked = Number(c.req.query("limit") ?? PAGE_SIZE);
  const limit = Number.isInteger(asked) && asked >= 1 && asked <= 100 ? asked : PAGE_SIZE;
  const page = await listVms(sc, projectId, {
    state: state || undefined,
    q: q || undefined,
    limit,
    cursor,
  });
  return {
    project: { id: project.id, name: project.name },
    filters: { state, q },
    states: OBSERVED_STATES.filter((s) => s !== "deleted"),
    rows: page.items.map((vm) => ({
      id: vm.id,
      name: vm.name,
      observedState: vm.observedState,
      desiredState: vm.desiredState,
      size: `${vm.vcpus} vCPU · ${formatMemory(vm.memoryMb)} · ${vm.diskGb} GB`,
      createdAt: formatTime(vm.createdAt),
    })),
    nextHref: page.next ? listHref(projectId, { state, q, limit, cursor: page.next }) : null,
    firstHref: cursor ? listHref(projectId, { state, q, limit }) : null,
    pollHref: listHref(projectId, { state, q, limit, ...(cursor ? { cursor } : {}) }),
    canCreate: await may(c, projectRef(projectId), "create_vm"),
  };
}

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

function operationItem(op: OperationRow, userId: string) {
  return {
    id: op.id,
    kind: op.kind,
    status: op.status,
    steps: op.steps.map((s) => ({
      name: s.name,
      status: s.status,
      at: s.at === null ? null : formatTime(s.at),
    })),
    error: op.errorCode ? { code: op.errorCode, hint: op.errorHint ?? "" } : null,
    createdAt: formatTime(op.createdAt),
    finishedAt: op.finishedAt === null ? null : formatTime(op.finishedAt),
    actor: op.actorId === userId ? "you" : op.actorType,
  };
}

async function detailProps(c: Ctx, vmId: string, csrfToken: string, userId: string) {
  const sc = serviceContext(c);
  const vm = await getVm(sc, vmId);
  const [project, ops] = await Promise.all([
    getProject(sc, vm.projectId),
    listVmOperations(sc, vmId, 20),
  ]);
  const image = await loadImage(c.var.deps, vm.imageId).catch(() => null);
  const hostNamed = vm.hostId !== null && (await may(c, orgRef(vm.orgId), "view_hosts"));
  const host = hostNamed && vm.hostId ? await getHost(c.var.deps, vm.hostId) : undefined;
  const running = ops.find((o) => o.status === "pending" || o.status === "running");
  const actions = [];
  for (const action of VM_ACTIONS) {
    if (!ACTION_FROM[action].includes(vm.observedState)) continue;
    if (await may(c, vmRef(vm.id), action)) {
      actions.push({ action, label: ACTION_LABEL[action] });
    }
  }
  const props: VmDetailProps = {
    telemetry: await telemetryView(c, vm.id),
    vm: {
      id: vm.id,
      name: vm.name,
      description: vm.description,
      project: { id: project.id, name: project.name },
      image: image?.name ?? vm.imageId,
      vcpus: vm.vcpus,
      memory: formatMemory(vm.memoryMb),
      diskGb: vm.diskGb,
      sshKeys: vm.sshKeys.length,
      host: vm.hostId === null ? null : (host?.name ?? "assigned"),
      desiredState: vm.desiredState,
      observedState: vm.observedState,
      stateReason: vm.stateReason,
      createdAt: formatTime(vm.createdAt),
      updatedAt: formatTime(vm.updatedAt),
    },
    operations: ops.map((o) => operationItem(o, userId)),
    actions,
    busy: running ? { id: running.id, kind: running.kind } : null,
    live: running !== undefined || TRANSITIONAL.has(vm.observedState),
    csrfToken,
  };
  return props;
}

/** The console tail for those with `console` permission, the activity charts for every viewer. */
async function telemetryView(c: Ctx, vmId: string): Promise<VmTelemetryView> {
  const sc = serviceContext(c);
  if (await may(c, vmRef(vmId), "console")) {
    const { console: tail, ...activity } = await vmTelemetry(sc, vmId);
    return {
      console: tail ? { text: tail.text, at: formatTime(tail.at) } : { text: null, at: null },
      activity: activityCharts(activity),
    };
  }
  return { console: null, activity: activityCharts(await vmActivity(sc, vmId)) };
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
    const props = await listProps(c, projectId);
    // The rows alone for htmx (the 3 s poll); the whole page otherwise.
    if (isPartialRequest(c)) return renderFragment(c, <VmRows {...props} />);
    return renderPage(c, {
      title: `VMs · ${props.project.name}`,
      layout: await vmLayout(c, active, projectId),
      body: <VmListPage {...props} />,
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
      body: <VmDetailPage {...props} />,
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
