import { appendFileSync } from "node:fs";
import { deserializeBody } from "./deserialize";
import { ADD_ROUTES, addDevice, removeDevice, resize, resizeDisk, resizeZone } from "./devices";
import type { Handled, HttpRequest, HttpResponse } from "./http-server";
import * as life from "./lifecycle";
import type { Machine, Outcome } from "./machine";
import type { Schemas } from "./schema";
import type { Json } from "./vm-config";

type Route = {
  method: "GET" | "PUT";
  /** The upstream schema of the body; routes without one take no body. */
  schema?: string;
  handle(m: Machine, body: Json, endpoint: string): Outcome | Promise<Outcome>;
};

const PREFIX = "/api/v1/";

/** HTTP_ROUTES of vmm/src/api/http/mod.rs (no `vm.coredump`: it needs a guest_debug build). */
export const ROUTES: Record<string, Route> = {
  "vmm.ping": { method: "GET", handle: () => life.ping() },
  "vmm.shutdown": { method: "PUT", handle: (m) => life.vmmShutdown(m) },
  "vm.info": { method: "GET", handle: (m) => life.info(m) },
  "vm.counters": { method: "GET", handle: (m) => life.counters(m) },
  "vm.create": { method: "PUT", schema: "VmConfig", handle: (m, b) => life.create(m, b) },
  "vm.delete": { method: "PUT", handle: (m) => life.remove(m) },
  "vm.boot": { method: "PUT", handle: (m) => life.boot(m) },
  "vm.pause": { method: "PUT", handle: (m) => life.pause(m) },
  "vm.resume": { method: "PUT", handle: (m) => life.resume(m) },
  "vm.shutdown": { method: "PUT", handle: (m) => life.shutdown(m) },
  "vm.reboot": { method: "PUT", handle: (m) => life.reboot(m) },
  "vm.power-button": { method: "PUT", handle: (m) => life.powerButton(m) },
  "vm.nmi": { method: "PUT", handle: (m) => life.nmi(m) },
  "vm.resize": { method: "PUT", schema: "VmResize", handle: (m, b) => resize(m, b) },
  "vm.resize-disk": { method: "PUT", schema: "VmResizeDisk", handle: (m, b) => resizeDisk(m, b) },
  "vm.resize-zone": { method: "PUT", schema: "VmResizeZone", handle: (m, b) => resizeZone(m, b) },
  "vm.remove-device": {
    method: "PUT",
    schema: "VmRemoveDevice",
    handle: (m, b) => removeDevice(m, b),
  },
  "vm.snapshot": {
    method: "PUT",
    schema: "VmSnapshotConfig",
    handle: (m, b) => life.snapshot(m, b),
  },
  "vm.restore": { method: "PUT", schema: "RestoreConfig", handle: (m, b) => life.restore(m, b) },
  "vm.send-migration": {
    method: "PUT",
    schema: "SendMigrationData",
    handle: (m) => life.migration(m, true),
  },
  "vm.receive-migration": {
    method: "PUT",
    schema: "ReceiveMigrationData",
    handle: (m) => life.migration(m, false),
  },
};

const ADD_SCHEMAS: Record<string, string> = {
  "vm.add-disk": "DiskConfig",
  "vm.add-net": "NetConfig",
  "vm.add-fs": "FsConfig",
  "vm.add-pmem": "PmemConfig",
  "vm.add-vsock": "VsockConfig",
  "vm.add-vdpa": "VdpaConfig",
  "vm.add-device": "DeviceConfig",
  "vm.add-user-device": "VmAddUserDevice",
  "vm.add-generic-vhost-user": "GenericVhostUserConfig",
};
for (const endpoint of Object.keys(ADD_ROUTES)) {
  const schema = ADD_SCHEMAS[endpoint];
  if (schema) ROUTES[endpoint] = { method: "PUT", schema, handle: (m, b, e) => addDevice(m, e, b) };
}

const json = (status: number, value: unknown): Handled => ({
  response: { status, body: JSON.stringify(value) },
});

export type RouterOptions = {
  machine: Machine;
  schemas: Schemas;
  /** Returns true when the exit fault fires for this call. */
  shouldExit(endpoint: string): boolean;
  crash(): void;
};

/** The generic rules of notes §a, then the state machine, then the v53 and logging switches. */
export function createRouter(options: RouterOptions): (request: HttpRequest) => Promise<Handled> {
  const { machine, schemas } = options;
  const { faults } = machine.ctx;
  const record = (request: HttpRequest, response: HttpResponse | undefined) => {
    if (!faults.requestLog) return;
    let body: unknown = request.body ?? null;
    try {
      if (request.body !== undefined) body = JSON.parse(request.body);
    } catch {
      // Keep malformed bodies as text.
    }
    const line = {
      method: request.method,
      path: request.path,
      body,
      status: response?.status ?? null,
    };
    appendFileSync(faults.requestLog, `${JSON.stringify(line)}\n`);
  };

  const route = async (request: HttpRequest): Promise<Handled> => {
    const endpoint = request.path.startsWith(PREFIX) ? request.path.slice(PREFIX.length) : "";
    const route = ROUTES[endpoint];
    if (!route) return json(404, ["Not Found"]);
    if (request.method === "PATCH" || request.method === "DELETE")
      return { response: { status: 400 } };
    if (request.method !== route.method) return json(400, ["Bad Request"]);
    if (!route.schema) {
      if (request.body !== undefined) return json(400, ["Bad Request"]);
      return machine.run(() => route.handle(machine, {}, endpoint));
    }
    // vm.create without a body is the one bodiless 400 among the body routes (notes §e).
    if (request.body === undefined)
      return endpoint === "vm.create" ? { response: { status: 400 } } : json(400, ["Bad Request"]);
    const parsed = deserializeBody(schemas, route.schema, request.body);
    if (!parsed.ok) return json(400, ["Failed to deserialize JSON", parsed.message]);
    return machine.run(() => route.handle(machine, parsed.value, endpoint));
  };

  return async (request) => {
    const endpoint = request.path.startsWith(PREFIX) ? request.path.slice(PREFIX.length) : "";
    if (options.shouldExit(endpoint)) {
      record(request, undefined);
      options.crash();
      return new Promise<Handled>(() => {}); // never answered
    }
    const handled = await route(request);
    let response = handled.response;
    // Only API errors change; the HTTP-level 400s stay (v53 maps errors by `api_error_status_code`).
    const apiError = response.body?.startsWith('["Error from API"') === true;
    if (faults.v53 && apiError && response.status !== 404) response = { ...response, status: 500 };
    record(request, response);
    return { ...handled, response };
  };
}
