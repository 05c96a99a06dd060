import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { createHarness } from "../support/harness";

/** Hono path `/api/v1/vms/:id` → OpenAPI path `/api/v1/vms/{id}`. */
const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

describe("OpenAPI", () => {
  it("serves a valid OpenAPI 3.1 document", async () => {
    const h = await createHarness();
    const res = await h.request("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string };
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("lists every /api/v1 route of the app, with its method", async () => {
    const h = await createHarness();
    const doc = (await (await h.request("/api/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routed = h.app.routes
      .filter((r) => r.path.startsWith("/api/v1/") && r.method !== "ALL")
      .map((r) => `${r.method.toLowerCase()} ${toOpenApiPath(r.path)}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(routed.length).toBeGreaterThan(0);
    expect(documented.sort()).toEqual(expect.arrayContaining([...new Set(routed)].sort()));
    expect(new Set(routed)).toEqual(
      new Set(documented.filter((d) => d.split(" ")[1]?.startsWith("/api/v1/"))),
    );
  });

  it("documents problem responses with the Problem schema", async () => {
    const h = await createHarness();
    const doc = (await (await h.request("/api/v1/openapi.json")).json()) as {
      components: { schemas: Record<string, unknown> };
      paths: Record<string, { get: { responses: Record<string, { content: object }> } }>;
    };
    expect(doc.components.schemas.Problem).toBeDefined();
    expect(Object.keys(doc.paths["/readyz"]?.get.responses["503"]?.content ?? {})).toEqual([
      "application/problem+json",
    ]);
  });

  it("serves the reference page and its assets from our own origin", async () => {
    const h = await createHarness();
    const res = await h.request("/api/docs");
    expect(res.status).toBe(200);
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      expect(ref.startsWith("/static/")).toBe(true);
      const asset = await h.request(ref);
      expect(asset.status, ref).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(100);
    }
    expect(html).toContain('data-spec-url="/api/v1/openapi.json"');
  });
});
