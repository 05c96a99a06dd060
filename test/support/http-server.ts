import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { onTestFinished } from "vitest";
import type { App } from "../../src/app";

/**
 * Serves an app on a loopback port (ephemeral unless given) for the current test (closed when it
 * ends, open connections included).
 */
export function listen(app: App, port = 0): Promise<string> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port }, (info: AddressInfo) =>
      resolve(`http://127.0.0.1:${info.port}`),
    );
    onTestFinished(
      () =>
        new Promise<void>((done) => {
          server.close(() => done());
          // Open streams (the console's live views) would hold close() until they end.
          if ("closeAllConnections" in server) server.closeAllConnections();
        }),
    );
  });
}
