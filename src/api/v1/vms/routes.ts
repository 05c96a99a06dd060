import { createRoute, z } from "@hono/zod-openapi";
import { OBSERVED_STATES } from "../../../db/schema";
import {
  CreateImageInput,
  createImage,
  deleteImage,
  listImages,
} from "../../../domain/images/images";
import { cancelOperation } from "../../../domain/vms/cancel-operation";
import { changeVmState, type VmAction } from "../../../domain/vms/change-state";
import { createVm } from "../../../domain/vms/create-vm";
import { idempotency } from "../../../domain/vms/operations";
import {
  getOperation,
  getVm,
  listProjectOperations,
  listVmOperations,
  listVms,
  VM_SORTS,
  waitForOperation,
} from "../../../domain/vms/queries";
import { getProjectQuota, setProjectQuota } from "../../../domain/vms/quotas";
import { resizeVm } from "../../../domain/vms/resize-vm";
import { CreateVmInput, ResizeVmInput } from "../../../domain/vms/schemas";
import { vmTelemetry } from "../../../domain/vms/telemetry";
import { currentActor, serviceContext } from "../../../http/auth";
import type { Ctx } from "../../../http/env";
import type { Router } from "../../router";
import { problemResponses } from "../../schemas";
import { common, commonRead, json, jsonBody, OrgIdParam, ProjectIdParam } from "../tenancy-schemas";
import {
  Accepted,
  IdempotencyHeader,
  Image,
  ImageIdParam,
  imageJson,
  Operation,
  OperationIdParam,
  operationJson,
  Quota,
  Vm,
  VmConsole,
  VmIdParam,
  vmJson,
} from "./schemas";

const tags = ["vms"];
const mutation = {
  ...common,
  ...problemResponses("operation_in_progress", "invalid_state", "idempotency_mismatch"),
};

const ListQuery = z.object({
  state: z.enum(OBSERVED_STATES).optional(),
  q: z.string().max(63).optional().openapi({ description: "Part of the name" }),
  sort: z.enum(VM_SORTS).default("created_desc").openapi({
    description: "Order: newest or oldest first, or by name; a `next` cursor keeps its order",
  }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().openapi({ description: "`next` of the previous page" }),
});

const WaitQuery = z.object({
  wait: z
    .string()
    .regex(/^\d{1,2}s$/, "seconds, e.g. 30s")
    .optional()
    .openapi({ description: "Long-poll up to this long (max 30s) for the operation to finish" }),
});

const QuotaBody = z.object({
  maxVms: z.number().int().min(0).max(10_000),
  maxVcpus: z.number().int().min(0).max(100_000),
  maxMemoryMb: z.number().int().min(0).max(100_000_000),
  maxDiskGb: z.number().int().min(0).max(10_000_000),
});

const action = (name: VmAction, summary: string) =>
  createRoute({
    method: "post",
    path: `/api/v1/vms/{vmId}/${name}`,
    tags,
    summary,
    request: { params: VmIdParam, headers: IdempotencyHeader },
    responses: { 202: json(Accepted, "Accepted; follow the operation"), ...mutation },
  });

const routes = {
  create: createRoute({
    method: "post",
    path: "/api/v1/projects/{projectId}/vms",
    tags,
    summary: "Create a VM (placed on a host of the organization, then booted)",
    request: { params: ProjectIdParam, headers: IdempotencyHeader, body: jsonBody(CreateVmInput) },
    responses: {
      202: json(Accepted, "Accepted; follow the operation"),
      ...mutation,
      ...problemResponses("no_capacity", "slug_taken"),
    },
  }),
  list: createRoute({
    method: "get",
    path: "/api/v1/projects/{projectId}/vms",
    tags,
    summary: "The project's VMs, newest first or in the asked order (keyset pagination)",
    request: { params: ProjectIdParam, query: ListQuery },
    responses: {
      200: json(z.object({ items: z.array(Vm), next: z.string().nullable() }), "A page of VMs"),
      ...commonRead,
    },
  }),
  get: createRoute({
    method: "get",
    path: "/api/v1/vms/{vmId}",
    tags,
    summary: "A VM: desired and observed state",
    request: { params: VmIdParam },
    responses: { 200: json(Vm, "The VM"), ...commonRead },
  }),
  remove: createRoute({
    method: "delete",
    path: "/api/v1/vms/{vmId}",
    tags,
    summary: "Delete a VM (its host removes it; capacity and name are released)",
    request: { params: VmIdParam, headers: IdempotencyHeader },
    responses: { 202: json(Accepted, "Accepted; follow the operation"), ...mutation },
  }),
  start: action("start", "Start a stopped VM"),
  stop: action("stop", "Stop a VM (graceful, then forced after a timeout)"),
  restart: action("restart", "Restart a running VM"),
  pause: action("pause", "Pause a running VM"),
  resume: action("resume", "Resume a paused VM"),
  resize: createRoute({
    method: "post",
    path: "/api/v1/vms/{vmId}/resize",
    tags,
    summary:
      "Resize a stopped VM: vCPUs, memory, and a disk that only grows (Cloud Hypervisor cannot grow a running VM's copy-on-write root disk)",
    request: { params: VmIdParam, headers: IdempotencyHeader, body: jsonBody(ResizeVmInput) },
    responses: {
      202: json(Accepted, "Accepted; follow the operation"),
      ...mutation,
      ...problemResponses("no_capacity"),
    },
  }),
  operations: createRoute({
    method: "get",
    path: "/api/v1/vms/{vmId}/operations",
    tags,
    summary: "The VM's operations, newest first",
    request: { params: VmIdParam },
    responses: { 200: json(z.object({ items: z.array(Operation) }), "Operations"), ...commonRead },
  }),
  projectOperations: createRoute({
    method: "get",
    path: "/api/v1/projects/{projectId}/operations",
    tags: ["operations"],
    summary: "The project's operations (of all its VMs, deleted ones included), newest first",
    request: {
      params: ProjectIdParam,
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
    },
    responses: { 200: json(z.object({ items: z.array(Operation) }), "Operations"), ...commonRead },
  }),
  console: createRoute({
    method: "get",
    path: "/api/v1/vms/{vmId}/console",
    tags,
    summary:
      "The tail of the VM's serial console, as its host last reported it (needs `console` permission)",
    request: { params: VmIdParam },
    responses: { 200: json(VmConsole, "The console tail"), ...commonRead },
  }),
  operation: createRoute({
    method: "get",
    path: "/api/v1/operations/{operationId}",
    tags: ["operations"],
    summary: "An operation; `?wait=30s` long-polls until it finishes",
    request: { params: OperationIdParam, query: WaitQuery },
    responses: { 200: json(Operation, "The operation"), ...commonRead },
  }),
  cancelOperation: createRoute({
    method: "post",
    path: "/api/v1/operations/{operationId}/cancel",
    tags: ["operations"],
    summary:
      "Cancel an operation: at once if its host has not started it, else at its next safe point",
    description:
      "Answers the operation: `cancelled` when its host had not started it (the VM stays as its " +
      "host last reported it; a create's VM becomes `error`), still `running` when the host " +
      "stops it at its next safe point (follow it with `?wait=`). Needs the permission that " +
      "starts an operation of its kind (`delete` for a create). Cancelling again is a no-op; " +
      "a finished operation is `409 already_finished`.",
    request: { params: OperationIdParam },
    responses: {
      200: json(Operation, "The operation after the request"),
      ...common,
      ...problemResponses("already_finished"),
    },
  }),
  images: createRoute({
    method: "get",
    path: "/api/v1/organizations/{orgId}/images",
    tags: ["images"],
    summary: "Images usable in the organization (its catalog and public images)",
    request: { params: OrgIdParam },
    responses: { 200: json(z.object({ items: z.array(Image) }), "Images"), ...commonRead },
  }),
  createImage: createRoute({
    method: "post",
    path: "/api/v1/organizations/{orgId}/images",
    tags: ["images"],
    summary: "Add an image to the organization's catalog (or one project's)",
    request: { params: OrgIdParam, body: jsonBody(CreateImageInput) },
    responses: { 201: json(Image, "Added"), ...common, ...problemResponses("slug_taken") },
  }),
  deleteImage: createRoute({
    method: "delete",
    path: "/api/v1/images/{imageId}",
    tags: ["images"],
    summary: "Remove an image no live VM was created from",
    request: { params: ImageIdParam },
    responses: { 204: { description: "Removed" }, ...common, ...problemResponses("not_empty") },
  }),
  quota: createRoute({
    method: "get",
    path: "/api/v1/projects/{projectId}/quota",
    tags: ["projects"],
    summary: "The project's limits and usage",
    request: { params: ProjectIdParam },
    responses: { 200: json(Quota, "Quota"), ...commonRead },
  }),
  setQuota: createRoute({
    method: "put",
    path: "/api/v1/projects/{projectId}/quota",
    tags: ["projects"],
    summary: "Set the project's limits (organization admins)",
    request: { params: ProjectIdParam, body: jsonBody(QuotaBody) },
    responses: { 200: json(Quota, "Quota"), ...common },
  }),
};

/** VMs, their operations, images and project quotas. */
export function registerVmApi(app: Router): void {
  // Anonymous callers get 401 before their input is looked at.
  for (const path of ["/api/v1/vms/*", "/api/v1/operations/*", "/api/v1/images/*"]) {
    app.use(path, async (c, next) => {
      currentActor(c);
      await next();
    });
  }

  app.openapi(routes.create, async (c) => {
    const body = c.req.valid("json");
    const { projectId } = c.req.valid("param");
    const idem = await idempotency(c.req.valid("header")["idempotency-key"], { projectId, body });
    const { vm, operation } = await createVm(serviceContext(c), projectId, body, idem);
    c.header("Location", `/api/v1/operations/${operation.id}`);
    return c.json({ vm: vmJson(vm), operation: operationJson(operation) }, 202);
  });

  app.openapi(routes.list, async (c) => {
    const { items, next } = await listVms(
      serviceContext(c),
      c.req.valid("param").projectId,
      c.req.valid("query"),
    );
    return c.json({ items: items.map(vmJson), next }, 200);
  });

  app.openapi(routes.get, async (c) =>
    c.json(vmJson(await getVm(serviceContext(c), c.req.valid("param").vmId)), 200),
  );

  const changeState = async (c: Ctx, vmId: string, name: VmAction) => {
    const idem = await idempotency(c.req.header("idempotency-key"), { vmId, action: name });
    const { vm, operation } = await changeVmState(serviceContext(c), vmId, name, idem);
    c.header("Location", `/api/v1/operations/${operation.id}`);
    return c.json({ vm: vmJson(vm), operation: operationJson(operation) }, 202);
  };
  app.openapi(routes.remove, (c) => changeState(c, c.req.valid("param").vmId, "delete"));
  app.openapi(routes.start, (c) => changeState(c, c.req.valid("param").vmId, "start"));
  app.openapi(routes.stop, (c) => changeState(c, c.req.valid("param").vmId, "stop"));
  app.openapi(routes.restart, (c) => changeState(c, c.req.valid("param").vmId, "restart"));
  app.openapi(routes.pause, (c) => changeState(c, c.req.valid("param").vmId, "pause"));
  app.openapi(routes.resume, (c) => changeState(c, c.req.valid("param").vmId, "resume"));

  app.openapi(routes.resize, async (c) => {
    const { vmId } = c.req.valid("param");
    const body = c.req.valid("json");
    const idem = await idempotency(c.req.valid("header")["idempotency-key"], { vmId, body });
    const { vm, operation } = await resizeVm(serviceContext(c), vmId, body, idem);
    c.header("Location", `/api/v1/operations/${operation.id}`);
    return c.json({ vm: vmJson(vm), operation: operationJson(operation) }, 202);
  });

  app.openapi(routes.operations, async (c) => {
    const items = await listVmOperations(serviceContext(c), c.req.valid("param").vmId);
    return c.json({ items: items.map(operationJson) }, 200);
  });

  app.openapi(routes.projectOperations, async (c) => {
    const items = await listProjectOperations(
      serviceContext(c),
      c.req.valid("param").projectId,
      c.req.valid("query").limit,
    );
    return c.json({ items: items.map(operationJson) }, 200);
  });

  app.openapi(routes.console, async (c) => {
    const tail = (await vmTelemetry(serviceContext(c), c.req.valid("param").vmId)).console;
    return c.json({ at: tail?.at ?? null, text: tail?.text ?? "" }, 200);
  });

  app.openapi(routes.operation, async (c) => {
    const { operationId } = c.req.valid("param");
    const wait = c.req.valid("query").wait;
    const sc = serviceContext(c);
    const op = wait
      ? await waitForOperation(sc, operationId, Math.min(30, Number.parseInt(wait, 10)) * 1000)
      : await getOperation(sc, operationId);
    return c.json(operationJson(op), 200);
  });

  app.openapi(routes.cancelOperation, async (c) => {
    const op = await cancelOperation(serviceContext(c), c.req.valid("param").operationId);
    return c.json(operationJson(op), 200);
  });

  app.openapi(routes.images, async (c) => {
    const items = await listImages(serviceContext(c), c.req.valid("param").orgId);
    return c.json({ items: items.map(imageJson) }, 200);
  });

  app.openapi(routes.createImage, async (c) => {
    const image = await createImage(
      serviceContext(c),
      c.req.valid("param").orgId,
      c.req.valid("json"),
    );
    return c.json(imageJson(image), 201);
  });

  app.openapi(routes.deleteImage, async (c) => {
    await deleteImage(serviceContext(c), c.req.valid("param").imageId);
    return c.body(null, 204);
  });

  app.openapi(routes.quota, async (c) =>
    c.json(await getProjectQuota(serviceContext(c), c.req.valid("param").projectId), 200),
  );

  app.openapi(routes.setQuota, async (c) => {
    const { projectId } = c.req.valid("param");
    const sc = serviceContext(c);
    await setProjectQuota(sc, projectId, c.req.valid("json"));
    return c.json(await getProjectQuota(sc, projectId), 200);
  });
}
