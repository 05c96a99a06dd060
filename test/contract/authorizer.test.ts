import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, onTestFinished } from "vitest";
import { EmbeddedAuthorizer } from "../../src/authz/embedded/engine";
import { LibsqlTupleStore } from "../../src/authz/embedded/libsql-store";
import { MemoryTupleStore } from "../../src/authz/embedded/memory-store";
import { PermifyRestAuthorizer } from "../../src/authz/permify-rest";
import { PermifyGrpcAuthorizer } from "../../src/node/authz/permify-grpc";
import { openNodeDatabase } from "../../src/node/database";
import { applyMigrations } from "../../src/node/migrate";
import { startPermifyGrpc } from "../support/permify-grpc-server";
import { startPermifyRest } from "../support/permify-rest-server";
import { authorizerContract } from "./authorizer.contract";

const AUTH = { tenant: "t1", apiKey: "contract-secret" };

authorizerContract("embedded (memory)", async () => new EmbeddedAuthorizer(new MemoryTupleStore()));

const tmp = mkdtempSync(join(tmpdir(), "strato-authz-contract-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let dbCount = 0;

authorizerContract("embedded (libSQL file)", async () => {
  const db = openNodeDatabase(`file:${join(tmp, `authz-${dbCount++}.db`)}`);
  await applyMigrations(db);
  return new EmbeddedAuthorizer(new LibsqlTupleStore(db));
});

authorizerContract("permify-rest (stand-in)", async () => {
  const server = await startPermifyRest(AUTH);
  onTestFinished(() => server.close());
  return new PermifyRestAuthorizer({ url: server.url, ...AUTH });
});

authorizerContract("permify-grpc (stand-in)", async () => {
  const server = await startPermifyGrpc(AUTH);
  onTestFinished(() => server.close());
  return new PermifyGrpcAuthorizer({ endpoint: server.endpoint, insecure: true, ...AUTH });
});
