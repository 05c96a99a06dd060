import { describe, expect, it, onTestFinished } from "vitest";
import { ConfigError, parseConfig } from "../../src/config";
import { PermifyGrpcAuthorizer } from "../../src/node/authz/permify-grpc";
import { startPermifyGrpc } from "../support/permify-grpc-server";

const AUTH = { tenant: "t1", apiKey: "grpc-key" };
const config = (env: Record<string, string>) =>
  parseConfig(
    { DATABASE_URL: "file:unused.db", AUTHZ: "permify-grpc", PERMIFY_URL: "permify:3478", ...env },
    "node",
  ).authz;

describe("Permify over gRPC: TLS unless told otherwise", () => {
  it("PERMIFY_INSECURE is false by default, true only when set so, and anything else is refused", () => {
    expect(config({})).toMatchObject({ mode: "permify-grpc", insecure: false });
    expect(config({ PERMIFY_INSECURE: "true" })).toMatchObject({ insecure: true });
    expect(() => config({ PERMIFY_INSECURE: "yes" })).toThrow(ConfigError);
  });

  it("by default the adapter speaks TLS: a plaintext server is not reached, and the key never sent", async () => {
    const server = await startPermifyGrpc(AUTH);
    onTestFinished(() => server.close());
    const check = (insecure?: boolean) =>
      new PermifyGrpcAuthorizer({
        endpoint: server.endpoint,
        ...AUTH,
        retries: 0,
        timeoutMs: 2_000,
        ...(insecure === undefined ? {} : { insecure }),
      }).check({
        entity: { type: "organization", id: "o1" },
        permission: "view",
        subject: { type: "user", id: "u1" },
      });
    await expect(check()).rejects.toThrow();
    expect(server.backend.requests).toEqual([]);
    // The same server, told plaintext is fine: it answers (and sees the key).
    await check(true).catch(() => undefined);
    expect(server.backend.requests.length).toBeGreaterThan(0);
  });
});
