import { createRoute, z } from "@hono/zod-openapi";
import type { Router } from "../router";

const Info = z
  .object({
    name: z.literal("strato"),
    version: z.string().openapi({ example: "0.1.0" }),
    apiVersion: z.literal("v1"),
    runtime: z.enum(["workers", "node"]),
  })
  .openapi("Info");

const getInfo = createRoute({
  method: "get",
  path: "/api/v1/info",
  tags: ["system"],
  summary:
    "Which Strato this is: version and runtime, for clients and agents to check compatibility",
  responses: {
    200: {
      description: "About this installation",
      content: { "application/json": { schema: Info } },
    },
  },
});

export function registerInfo(app: Router): void {
  app.openapi(getInfo, (c) => {
    const { config } = c.var.deps;
    return c.json(
      {
        name: "strato" as const,
        version: config.version,
        apiVersion: "v1" as const,
        runtime: config.runtime,
      },
      200,
    );
  });
}
