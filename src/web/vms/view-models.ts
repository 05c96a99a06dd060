import type { VmDetailProps } from "../../../templates/pages/vms/detail";
import type { VmListProps } from "../../../templates/pages/vms/list";
import type { VmTelemetryView } from "../../../templates/pages/vms/telemetry";
import { OBSERVED_STATES } from "../../db/schema";
import { getHost } from "../../domain/hosts/list-hosts";
import { loadImage } from "../../domain/images/images";
import { orgRef, projectRef } from "../../domain/orgs/shared";
import { getProject } from "../../domain/projects/get-project";
import { CANCEL_PERMISSION } from "../../domain/vms/cancel-operation";
import type { VmAction } from "../../domain/vms/change-state";
import type { OperationRow, VmOperationKind } from "../../domain/vms/operations";
import {
  getVm,
  listVmOperations,
  listVms,
  VM_SORTS,
  type VmListQuery,
  type VmSort,
  vmPage,
} from "../../domain/vms/queries";
import { vmRef } from "../../domain/vms/shared";
import { vmActivity, vmTelemetry } from "../../domain/vms/telemetry";
import { serviceContext } from "../../http/auth";
import type { Ctx } from "../../http/env";
import { formatTime } from "../console";
import { ACTION_FROM, formatMemory, may, TRANSITIONAL, VM_ACTIONS } from "./shared";
import { activityCharts } from "./telemetry";

/**
 * The data of the VM list and detail views, built for a request: the pages render them whole, the
 * polls and the live streams (./live.ts) their changing parts.
 */

export const PAGE_SIZE = 25;

const ACTION_LABEL: Record<VmAction, string> = {
  start: "Start",
  stop: "Stop",
  restart: "Restart",
  pause: "Pause",
  resume: "Resume",
  delete: "Delete…",
};

/** Narrows a query parameter to one of a fixed set of values. */
function oneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

type ListQuery = { state: string; q: string; sort?: VmSort; limit: number; cursor?: string };

const SORT_LABEL: Record<VmSort, string> = {
  created_desc: "Newest first",
  created_asc: "Oldest first",
  name_asc: "Name A–Z",
  name_desc: "Name Z–A",
};

/** A URL of the list (or of its event stream) with these filters and page. */
export function listHref(projectId: string, query: ListQuery, path = "vms") {
  const params = new URLSearchParams();
  if (query.state) params.set("state", query.state);
  if (query.q) params.set("q", query.q);
  if (query.sort && query.sort !== "created_desc") params.set("sort", query.sort);
  if (query.limit !== PAGE_SIZE) params.set("limit", String(query.limit));
  if (query.cursor) params.set("cursor", query.cursor);
  const search = params.toString();
  return `/projects/${projectId}/${path}${search ? `?${search}` : ""}`;
}

/** The list page's data: the domain's page of VMs plus the links around it. */
/** The list's filters, order and page from the request's query string (unknown values ignored). */
function listQuery(c: Ctx) {
  const rawState = c.req.query("state") ?? "";
  const state = oneOf(OBSERVED_STATES, rawState) ? rawState : "";
  const q = (c.req.query("q") ?? "").trim().slice(0, 63);
  const rawSort = c.req.query("sort") ?? "";
  const sort: VmSort = oneOf(VM_SORTS, rawSort) ? rawSort : "created_desc";
  const cursor = c.req.query("cursor") || undefined;
  const asked = Number(c.req.query("limit") ?? PAGE_SIZE);
  const limit = Number.isInteger(asked) && asked >= 1 && asked <= 100 ? asked : PAGE_SIZE;
  const domain: VmListQuery = {
    state: state || undefined,
    q: q || undefined,
    sort,
    limit,
    cursor,
  };
  return { state, q, sort, limit, cursor, domain };
}

/**
 * The live list's change marker: the page it shows (rows and whether a next page exists), read
 * with the same filters and order. An indexed page query, so it costs the same at any fleet size.
 */
export async function listMarker(c: Ctx, projectId: string): Promise<string> {
  const page = await vmPage(c.var.deps.db, projectId, listQuery(c).domain);
  return JSON.stringify([
    page.next !== null,
    page.items.map((vm) => [
      vm.id,
      vm.updatedAt,
      vm.name,
      vm.observedState,
      vm.desiredState,
      vm.vcpus,
      vm.memoryMb,
      vm.diskGb,
    ]),
  ]);
}

export async function listProps(c: Ctx, projectId: string): Promise<VmListProps> {
  const sc = serviceContext(c);
  const project = await getProject(sc, projectId);
  const { state, q, sort, limit, cursor, domain } = listQuery(c);
  const page = await listVms(sc, projectId, domain);
  const here = { state, q, sort, limit, ...(cursor ? { cursor } : {}) };
  return {
    project: { id: project.id, name: project.name },
    filters: { state, q, sort },
    states: OBSERVED_STATES.filter((s) => s !== "deleted"),
    sorts: VM_SORTS.map((value) => ({ value, label: SORT_LABEL[value] })),
    rows: page.items.map((vm) => ({
      id: vm.id,
      name: vm.name,
      observedState: vm.observedState,
      desiredState: vm.desiredState,
      size: `${vm.vcpus} vCPU · ${formatMemory(vm.memoryMb)} · ${vm.diskGb} GB`,
      createdAt: formatTime(vm.createdAt),
    })),
    nextHref: page.next ? listHref(projectId, { state, q, sort, limit, cursor: page.next }) : null,
    firstHref: cursor ? listHref(projectId, { state, q, sort, limit }) : null,
    pollHref: listHref(projectId, here),
    eventsHref: listHref(projectId, here, "vms/events"),
    canCreate: await may(c, projectRef(projectId), "create_vm"),
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

/** The detail page's data: the VM, its latest operations, the actions the user may take now. */
export async function detailProps(c: Ctx, vmId: string, csrfToken: string, userId: string) {
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
    busy: running
      ? {
          id: running.id,
          kind: running.kind,
          cancellable: await may(
            c,
            vmRef(vm.id),
            CANCEL_PERMISSION[running.kind as VmOperationKind] ?? "update",
          ),
        }
      : null,
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
