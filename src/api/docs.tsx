import { z } from "@hono/zod-openapi";
import { ApiDocsPage } from "../../templates/pages/api-docs";
import type { Router } from "./router";

export const OPENAPI_PATH = "/api/v1/openapi.json";

/** The OpenAPI 3.1 document of every registered route, and a reference page that renders it. */
export function registerDocs(app: Router): void {
  // doc31 serves the document but leaves itself out of it; describe it so the document is complete.
  app.openAPIRegistry.registerPath({
    method: "get",
    path: OPENAPI_PATH,
    tags: ["system"],
    summary: "This document: the OpenAPI 3.1 description of the REST API",
    responses: {
      200: {
        description: "OpenAPI 3.1 document",
        content: { "application/json": { schema: z.looseObject({ openapi: z.string() }) } },
      },
    },
  });
  app.doc31(OPENAPI_PATH, (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Strato API",
      version: c.var.deps.config.version,
      description:
        "REST API of the Strato control plane. Errors are `application/problem+json` (RFC 9457) " +
        "with a stable `code`; validation errors list every invalid field in `errors`.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));

  // Under the default CSP: Swagger UI sets its styles through the CSSOM, which CSP allows.
  app.get("/api/docs", (c) => {
    return c.html(<ApiDocsPage specUrl={OPENAPI_PATH} version={c.var.deps.config.version} />);
  });
}
