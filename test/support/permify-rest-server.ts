import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { grpc } from "@permify/permify-node";
import { Hono } from "hono";
import { packValue } from "../../src/node/authz/permify-grpc-codec";
import { PermifyBackend, PermifyFault } from "./permify-backend";

/**
 * Stand-in for Permify's REST gateway on 127.0.0.1:0. Bodies are decoded with the ts-proto
 * `fromJSON` of the shipped messages, which reads proto (snake_case) names only, so a request
 * in the wrong spelling loses its fields and fails like it would against the real gateway.
 */
const P = grpc.payload;
type Codec<T> = { fromJSON(object: unknown): T; toJSON(message: T): unknown };
type Route = (json: unknown, tenant: string, auth: string | undefined) => Promise<unknown>;

export type RestStandIn = { url: string; backend: PermifyBackend; close(): Promise<void> };

export function startPermifyRest(auth: { tenant: string; apiKey: string }): Promise<RestStandIn> {
  const backend = new PermifyBackend(auth);
  const rpc =
    <Req extends { tenantId: string }, Res>(
      name: string,
      req: Codec<Req>,
      res: Codec<Res>,
      run: (m: Req) => Promise<Res>,
    ): Route =>
    async (json, tenant, authorization) => {
      const message = req.fromJSON({ ...(json as object), tenant_id: tenant });
      await backend.admit(name, message.tenantId, authorization, message);
      return res.toJSON(await run(message));
    };
  const routes: Record<string, Route> = {
    "permissions/check": rpc(
      "Permission.Check",
      P.PermissionCheckRequest,
      P.PermissionCheckResponse,
      (m) => backend.check(m),
    ),
    "permissions/lookup-entity": rpc(
      "Permission.LookupEntity",
      P.PermissionLookupEntityRequest,
      P.PermissionLookupEntityResponse,
      (m) => backend.lookupEntity(m),
    ),
    "permissions/lookup-subject": rpc(
      "Permission.LookupSubject",
      P.PermissionLookupSubjectRequest,
      P.PermissionLookupSubjectResponse,
      (m) => backend.lookupSubject(m),
    ),
    "data/write": rpc("Data.Write", P.DataWriteRequest, P.DataWriteResponse, (m) =>
      backend.writeData(m),
    ),
    "data/delete": rpc("Data.Delete", P.DataDeleteRequest, P.DataDeleteResponse, (m) =>
      backend.deleteData(m),
    ),
    "schemas/write": rpc("Schema.Write", P.SchemaWriteRequest, P.SchemaWriteResponse, (m) =>
      backend.writeSchema(m),
    ),
  };

  const app = new Hono();
  app.post("/v1/tenants/:tenant/:group/:action", async (c) => {
    const route = routes[`${c.req.param("group")}/${c.req.param("action")}`];
    if (!route) return reply({ code: 5, message: "Not Found", details: [] }, 404);
    try {
      const json = anyToTsProto(await c.req.json());
      return reply(await route(json, c.req.param("tenant"), c.req.header("authorization")), 200);
    } catch (error) {
      if (!(error instanceof PermifyFault)) throw error;
      return reply({ code: error.grpcCode, message: error.message, details: [] }, error.httpStatus);
    }
  });

  return new Promise((resolve) => {
    const server = serve(
      { fetch: app.fetch, hostname: "127.0.0.1", port: 0 },
      (info: AddressInfo) =>
        resolve({
          url: `http://127.0.0.1:${info.port}`,
          backend,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              // Keep-alive sockets (and requests a timed-out client gave up on) would hold close().
              if ("closeAllConnections" in server) server.closeAllConnections();
            }),
        }),
    );
  });
}

function reply(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** protojson writes `Any` as `{"@type": url, …fields}`; ts-proto's `fromJSON` wants bytes. */
function anyToTsProto(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(anyToTsProto);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const url = record["@type"];
  if (typeof url === "string") {
    const packed = packValue(url.slice(url.lastIndexOf("/") + 1), record.data);
    return packed ? { typeUrl: packed.typeUrl, value: packed.value.toString("base64") } : {};
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, anyToTsProto(v)]));
}
