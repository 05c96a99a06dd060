import { createRoute, z } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import { ServiceError } from "../../src/domain/errors";
import { signedInUser } from "../support/actors";
import { createHarness, type Harness } from "../support/harness";

const PROBLEM = "application/problem+json";

/**
 * The generic request pipeline (body guard, validation hook, error handler) is shared by every
 * route. It is exercised here through routes registered on the real app the way API modules do,
 * because the foundation has no mutating public route yet; the resource issues add their own.
 */
function addFixtureRoutes(h: Harness) {
  const create = createRoute({
    method: "post",
    path: "/api/v1/fixtures",
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z.object({
              name: z.string().min(1).max(63),
              size: z.number().int().positive(),
              labels: z.record(z.string(), z.string()).optional(),
            }),
          },
        },
      },
      query: z.object({ dryRun: z.enum(["true", "false"]).optional() }),
    },
    responses: { 201: { description: "created" } },
  });
  h.app.openapi(create, (c) => c.json(c.req.valid("json"), 201));
  h.app.get("/api/v1/fixtures/boom", () => {
    throw new Error("secret internals: db password is hunter2");
  });
  h.app.get("/api/v1/fixtures/http-exception/:status", (c) => {
    throw new HTTPException(Number(c.req.param("status")) as 403 | 429, { message: "Go away." });
  });
  h.app.get("/api/v1/fixtures/conflict", () => {
    throw new ServiceError("CONFLICT", "The VM is being deleted.");
  });
}

async function problemOf(res: Response) {
  expect(res.headers.get("content-type")).toBe(PROBLEM);
  return (await res.json()) as Record<string, unknown> & { errors?: Record<string, string>[] };
}

const json = (body: string, headers: Record<string, string> = {}) => ({
  method: "POST",
  body,
  headers: { "content-type": "application/json", ...headers },
});

describe("problem+json for bad input", () => {
  it("accepts a valid body", async () => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request("/api/v1/fixtures", json('{"name":"web-1","size":2}'));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ name: "web-1", size: 2 });
  });

  it("malformed JSON is 400 malformed_json", async () => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request("/api/v1/fixtures", json('{"name": "web-1",'));
    expect(res.status).toBe(400);
    const p = await problemOf(res);
    expect(p).toMatchObject({ status: 400, code: "malformed_json", instance: "/api/v1/fixtures" });
    expect(p.requestId).toBe(res.headers.get("x-request-id"));
  });

  it("invalid fields are 422 listing every offending field with its location", async () => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request(
      "/api/v1/fixtures",
      json(JSON.stringify({ name: "", size: -1, labels: { env: 3 } })),
    );
    expect(res.status).toBe(422);
    const p = await problemOf(res);
    expect(p.code).toBe("validation_failed");
    const fields = (p.errors ?? []).map((e) => `${e.in}:${e.field}`).sort();
    expect(fields).toEqual(["body:labels.env", "body:name", "body:size"]);
    for (const e of p.errors ?? []) expect(e.message).toBeTruthy();
  });

  it("invalid query parameters are 422 with in=query", async () => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request("/api/v1/fixtures?dryRun=maybe", json('{"name":"a","size":1}'));
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors).toMatchObject([{ in: "query", field: "dryRun" }]);
  });

  it("a body that is not JSON is 415", async () => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request("/api/v1/fixtures", {
      method: "POST",
      body: "name=web-1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect((await problemOf(res)).code).toBe("unsupported_media_type");
  });

  it("a body over the limit is 413, also when streamed without Content-Length", async () => {
    const h = await createHarness({ config: { maxBodyBytes: 64 } });
    addFixtureRoutes(h);
    const big = JSON.stringify({ name: "x".repeat(200), size: 1 });
    const res = await h.request("/api/v1/fixtures", json(big));
    expect(res.status).toBe(413);
    expect((await problemOf(res)).code).toBe("payload_too_large");

    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const res2 = await h.request("/api/v1/fixtures", {
      method: "POST",
      body: streamed,
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      duplex: "half",
    } as RequestInit);
    expect(res2.status).toBe(413);
  });

  it("a console form over the limit is 413 before any handler reads it, signed in or not", async () => {
    const h = await createHarness({ config: { maxBodyBytes: 64 } });
    const res = await h.request("/orgs/org_x/rename", {
      method: "POST",
      body: `name=${"x".repeat(200)}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(413);
    expect((await problemOf(res)).code).toBe("payload_too_large");
  });

  it("a console form whose multipart body cannot be parsed is a 400, never a 500; one over the limit stays 413", async () => {
    const h = await createHarness({ config: { maxBodyBytes: 256 } });
    const ada = await signedInUser(h);
    const broken = (extra: Record<string, string> = {}) => ({
      method: "POST",
      body: "garbage",
      headers: { "content-type": "multipart/form-data; boundary=zzz", ...extra },
    });
    const signedInWithoutHeader = {
      cookie: ada.cookie,
      origin: h.deps.config.webauthn.origin,
    };
    for (const [path, init] of [
      ["/orgs/org_x/rename", broken()], // the page reads the form
      ["/hosts/hst_x/maintenance", broken()], // read before its authorization
      ["/orgs/org_x/rename", broken(signedInWithoutHeader)], // the CSRF check reads the field
    ] as const) {
      const res = await h.request(path, init);
      expect(res.status, path).toBe(400);
      expect((await problemOf(res)).code).toBe("bad_request");
    }
    expect(h.logs.entries.filter((e) => e.message === "unhandled error")).toEqual([]);
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`--zzz\r\n${"x".repeat(1000)}`));
        controller.close();
      },
    });
    const tooBig = await h.request("/orgs/org_x/rename", {
      method: "POST",
      body: streamed,
      headers: { "content-type": "multipart/form-data; boundary=zzz", ...signedInWithoutHeader },
      duplex: "half",
    } as RequestInit);
    expect(tooBig.status).toBe(413);
  });

  it("an unexpected error is a generic 500: no internals out, stack in the log", async () => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request("/api/v1/fixtures/boom");
    expect(res.status).toBe(500);
    const text = await res.clone().text();
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("at ");
    const p = await problemOf(res);
    expect(p.code).toBe("internal_error");
    const logged = h.logs.entries.find((e) => e.message === "unhandled error");
    expect(logged).toMatchObject({ level: "error", requestId: p.requestId });
    expect(String(logged?.stack)).toContain("hunter2");
  });

  it("domain errors map to their status and code", async () => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request("/api/v1/fixtures/conflict");
    expect(res.status).toBe(409);
    expect(await problemOf(res)).toMatchObject({
      code: "conflict",
      detail: "The VM is being deleted.",
    });
  });

  it.each([
    [403, "forbidden"],
    [429, "rate_limited"],
    [418, "bad_request"],
  ])("an HTTPException %i keeps its status and gets code %s", async (status, code) => {
    const h = await createHarness();
    addFixtureRoutes(h);
    const res = await h.request(`/api/v1/fixtures/http-exception/${status}`);
    expect(res.status).toBe(status === 418 ? 400 : status);
    expect(await problemOf(res)).toMatchObject({ code });
  });

  it("an unknown route is 404 not_found", async () => {
    const h = await createHarness();
    const res = await h.request("/api/v1/nope");
    expect(res.status).toBe(404);
    expect(await problemOf(res)).toMatchObject({ code: "not_found", status: 404 });
  });

  it("a known path with the wrong method is 405 with Allow", async () => {
    const h = await createHarness();
    const res = await h.request("/healthz", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("GET");
    expect((await problemOf(res)).code).toBe("method_not_allowed");
  });
});
