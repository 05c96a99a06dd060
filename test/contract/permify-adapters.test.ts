import { describe, expect, it, onTestFinished } from "vitest";
import { type Authorizer, AuthzError } from "../../src/authz/authorizer";
import type { PermifyCommonOptions } from "../../src/authz/permify/session";
import { PermifyRestAuthorizer } from "../../src/authz/permify-rest";
import { PermifyGrpcAuthorizer } from "../../src/node/authz/permify-grpc";
import type { PermifyBackend } from "../support/permify-backend";
import { startPermifyGrpc } from "../support/permify-grpc-server";
import { startPermifyRest } from "../support/permify-rest-server";

const SECRET = "sk-live-0123456789abcdef";
const AUTH = { tenant: "t1", apiKey: SECRET };
const SCHEMA =
  "entity user {}\nentity doc {\n  relation viewer @user\n  permission view = viewer\n}";
const noSleep = async () => {};

type Options = Omit<PermifyCommonOptions, "tenant">;
type Harness = { backend: PermifyBackend; make(options?: Options): Authorizer };

const adapters: [string, () => Promise<Harness>][] = [
  [
    "permify-rest",
    async () => {
      const server = await startPermifyRest(AUTH);
      onTestFinished(() => server.close());
      const make = (o: Options = {}) =>
        new PermifyRestAuthorizer({ url: server.url, ...AUTH, sleep: noSleep, ...o });
      return { backend: server.backend, make };
    },
  ],
  [
    "permify-grpc",
    async () => {
      const server = await startPermifyGrpc(AUTH);
      onTestFinished(() => server.close());
      const make = (o: Options = {}) =>
        new PermifyGrpcAuthorizer({
          endpoint: server.endpoint,
          insecure: true,
          ...AUTH,
          sleep: noSleep,
          ...o,
        });
      return { backend: server.backend, make };
    },
  ],
];

const doc1 = { type: "doc", id: "1" };
const alice = { type: "user", id: "alice" };
const checkAlice = (a: Authorizer) => a.check({ entity: doc1, permission: "view", subject: alice });

async function failure(p: Promise<unknown>): Promise<AuthzError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthzError);
  return error as AuthzError;
}

/** The `metadata` of every recorded request to `method` (ts-proto field names). */
function metadataOf(backend: PermifyBackend, method: string) {
  return backend.requests
    .filter((r) => r.method.endsWith(method))
    .map((r) => (r.message as { metadata?: { depth: number; snapToken: string } }).metadata);
}

for (const [name, start] of adapters) {
  describe(`${name} adapter`, () => {
    it("sends depth >= 3, the bearer token, and the write's snap token on the next read", async () => {
      const { backend, make } = await start();
      const authz = make();
      await authz.writeSchema(SCHEMA);
      await authz.writeRelationships([{ entity: doc1, relation: "viewer", subject: alice }]);
      expect(await checkAlice(authz)).toEqual({ allowed: true });
      await authz.check({ entity: doc1, permission: "view", subject: alice, depth: 7 });

      expect(backend.requests.every((r) => r.authorization === `Bearer ${SECRET}`)).toBe(true);
      const [first, second] = metadataOf(backend, "Check");
      expect(first?.depth).toBe(20);
      expect(second?.depth).toBe(7);
      expect(first?.snapToken).toBe("snap-1");
    });

    it("refuses a depth below 3 before calling Permify", async () => {
      const { backend, make } = await start();
      const error = await failure(
        make().check({ entity: doc1, permission: "view", subject: alice, depth: 2 }),
      );
      expect(error.code).toBe("invalid_depth");
      expect(backend.requests).toHaveLength(0);
    });

    it("retries once after a transient UNAVAILABLE / 503, then succeeds", async () => {
      const { backend, make } = await start();
      const authz = make({ retries: 2 });
      await authz.writeSchema(SCHEMA);
      backend.inject({ kind: "unavailable" });
      expect(await checkAlice(authz)).toEqual({ allowed: false });
      expect(metadataOf(backend, "Check")).toHaveLength(2);
    });

    it("gives up with `unavailable` when retries run out", async () => {
      const { backend, make } = await start();
      backend.inject({ kind: "unavailable" }, { kind: "unavailable" });
      const error = await failure(make({ retries: 1 }).writeSchema(SCHEMA));
      expect(error.code).toBe("unavailable");
      expect(backend.requests).toHaveLength(2);
    });

    it("does not retry a client error, and never echoes the API key", async () => {
      const { backend, make } = await start();
      const wrongKey = `${SECRET}-wrong`;
      const error = await failure(make({ apiKey: wrongKey, retries: 3 }).writeSchema(SCHEMA));
      expect(error.code).toBe("unauthenticated");
      expect(error.message).not.toContain(SECRET);
      expect(String(error.stack)).not.toContain(SECRET);
      expect(backend.requests).toHaveLength(1);
    });

    it("maps a schema Permify rejects to schema_invalid without retrying", async () => {
      const { backend, make } = await start();
      const error = await failure(make({ retries: 3 }).writeSchema("entity {"));
      expect(error.code).toBe("schema_invalid");
      expect(backend.requests).toHaveLength(1);
    });

    it("times out a slow call with `timeout`", async () => {
      const { backend, make } = await start();
      backend.inject({ kind: "delay", ms: 400 });
      const started = Date.now();
      const error = await failure(make({ timeoutMs: 100, retries: 0 }).writeSchema(SCHEMA));
      expect(error.code).toBe("timeout");
      expect(error.message).toMatch(/timed out after 100 ms/);
      expect(Date.now() - started).toBeLessThan(350);
    });

    it("retries after a timeout and succeeds on the next attempt", async () => {
      const { backend, make } = await start();
      backend.inject({ kind: "delay", ms: 400 });
      await make({ timeoutMs: 100, retries: 1 }).writeSchema(SCHEMA);
      expect(backend.requests.length).toBeGreaterThanOrEqual(2);
    });
  });
}

describe("permify-rest adapter over an injected fetch", () => {
  it("redacts the API key if Permify echoes it, and retries 5xx but not 4xx", async () => {
    const statuses = [500, 400];
    let calls = 0;
    const fetchStub: typeof fetch = async () => {
      calls++;
      const status = statuses.shift() ?? 200;
      const body = JSON.stringify({
        code: status === 500 ? 13 : 3,
        message: `bad token ${SECRET}`,
      });
      return new Response(body, { status });
    };
    const authz = new PermifyRestAuthorizer({
      url: "http://permify.invalid",
      ...AUTH,
      fetch: fetchStub,
      sleep: noSleep,
    });
    const error = await failure(authz.writeSchema(SCHEMA));
    expect(calls).toBe(2);
    expect(error.code).toBe("schema_invalid");
    expect(error.message).toContain("[redacted]");
    expect(error.message).not.toContain(SECRET);
  });

  it("treats a network failure as retryable and reports `unavailable`", async () => {
    let calls = 0;
    const fetchStub: typeof fetch = async () => {
      calls++;
      throw new TypeError("fetch failed");
    };
    const delays: number[] = [];
    const authz = new PermifyRestAuthorizer({
      url: "http://permify.invalid",
      ...AUTH,
      fetch: fetchStub,
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 1,
      retries: 2,
    });
    const error = await failure(checkAlice(authz));
    expect(error.code).toBe("unavailable");
    expect(calls).toBe(3);
    expect(delays).toEqual([50, 100]); // exponential steps, jitter maxed out by random() = 1
  });

  it("reads lowerCamel responses too and follows continuous tokens", async () => {
    const pages = [
      { entityIds: ["b"], continuousToken: "p2" },
      { entity_ids: ["a"], continuous_token: "" },
    ];
    const sent: string[] = [];
    const fetchStub: typeof fetch = async (_url, init) => {
      sent.push(String(init?.body));
      return Response.json(pages.shift());
    };
    const authz = new PermifyRestAuthorizer({
      url: "http://permify.invalid",
      ...AUTH,
      fetch: fetchStub,
    });
    expect(
      await authz.lookupEntity({ entityType: "doc", permission: "view", subject: alice }),
    ).toEqual(["a", "b"]);
    expect(JSON.parse(sent[1] ?? "{}")).toMatchObject({
      continuous_token: "p2",
      metadata: { depth: 20 },
    });
  });
});
