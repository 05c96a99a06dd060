import { readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { expect } from "vitest";
import WebSocket from "ws";
import { tokenAssertion } from "../../agent/src/identity";
import { loadIdentity, loadKey } from "../../agent/src/state";
import { workEvents, workItems } from "../../src/db/schema";
import type { Deps } from "../../src/deps";
import { createOrganization } from "../../src/domain/orgs/create-organization";
import { createProject } from "../../src/domain/projects/create-project";
import { createToken } from "../../src/domain/tokens/create-token";
import { enqueueWork } from "../../src/domain/work/enqueue";
import { operatorContext } from "../support/operator";
import { busy, until } from "../support/poll";
import type { Spawned } from "../support/processes";

export const AUTHZ_SCHEMA = readFileSync(
  join(import.meta.dirname, "../../permify/schema.perm"),
  "utf8",
);

/**
 * A signed-in operator's API for doorbell tests: only work the server itself queues makes the
 * server ring, and creating a VM is the public way to queue work. The first account is made in
 * the database (as in test/e2e/vm-lifecycle.test.ts).
 */
export async function operatorApi(deps: Deps, base: string) {
  const sc = await operatorContext(deps, "doorbell");
  const orgId = (await busy(() => createOrganization(sc, { name: "Doorbell" }))).id;
  const projectId = (await busy(() => createProject(sc, orgId, { name: "Web" }))).id;
  const { secret } = await busy(() => createToken(sc, orgId, { name: "ops", role: "admin" }));

  const request = async (path: string, method = "GET", json?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${secret}`,
        ...(json === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  let imageId: string | undefined;
  return {
    orgId,
    request,
    async enrollmentToken(): Promise<string> {
      const body = await request(`/api/v1/organizations/${orgId}/enrollment-tokens`, "POST", {
        description: "doorbell",
        maxUses: 1,
      });
      return String(body.secret);
    },
    /**
     * Queues a `vm.create` through the API (the server commits the item, then rings). The image
     * is not there (a 404 from the control plane itself, which the agent does not retry): the test
     * times how fast the item is picked up, not the VM.
     */
    async createVm(name: string): Promise<string> {
      imageId ??= String(
        (
          await request(`/api/v1/organizations/${orgId}/images`, "POST", {
            name: "unreachable",
            url: `${base}/no-such-image.qcow2`,
            sha256: "a".repeat(64),
            format: "qcow2",
          })
        ).id,
      );
      const accepted = await request(`/api/v1/projects/${projectId}/vms`, "POST", {
        name,
        imageId,
        vcpus: 1,
        memoryMb: 512,
        diskGb: 2,
      });
      return String((accepted.operation as { id: string }).id);
    },
  };
}

/** The item of an operation and, once the agent acked it, how long after its commit that was. */
export async function ackDelayMs(deps: Deps, operationId: string): Promise<number | undefined> {
  const [item] = await deps.db.select().from(workItems).where(eq(workItems.idem, operationId));
  if (!item) return undefined;
  const [accepted] = await deps.db
    .select()
    .from(workEvents)
    .where(and(eq(workEvents.itemId, item.id), eq(workEvents.kind, "accepted")));
  return accepted ? accepted.at - item.createdAt : undefined;
}

/** Whether the operation's item has finished (the agent runs one item at a time). */
export async function settled(deps: Deps, operationId: string): Promise<true | undefined> {
  const [item] = await deps.db.select().from(workItems).where(eq(workItems.idem, operationId));
  return item && !["queued", "leased", "accepted", "running"].includes(item.state)
    ? true
    : undefined;
}

/** An access token of the enrolled agent in `stateDir`, minted with its own key. */
export async function agentAccessToken(base: string, stateDir: string): Promise<string> {
  const identity = loadIdentity(stateDir);
  if (!identity) throw new Error(`not enrolled: ${stateDir}`);
  const key = await loadKey(stateDir);
  const assertion = await tokenAssertion(key, identity.host_id, identity.issuer, Date.now());
  const res = await fetch(`${base}/api/v1/agent/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
  });
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
  return String(((await res.json()) as { access_token: string }).access_token);
}

export type Upgrade =
  | { opened: true; socket: WebSocket }
  | { opened: false; status: number; contentType: string; body: Record<string, unknown> };

/** Opens the doorbell with `ws` (which, unlike undici, shows a refused upgrade's answer). */
export function openDoorbell(base: string, bootId: string, token?: string): Promise<Upgrade> {
  const url = `${base.replace(/^http/, "ws")}/api/v1/agent/connect?boot_id=${bootId}`;
  const socket = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve({ opened: true, socket }));
    socket.once("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on("end", () =>
        resolve({
          opened: false,
          status: res.statusCode ?? 0,
          contentType: String(res.headers["content-type"] ?? ""),
          body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        }),
      );
    });
    socket.once("error", reject);
  });
}

/** The close code a socket ends with. */
export function closed(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once("close", (code: number) => resolve(code)));
}

/** The agent launcher the process tests run. */
export const AGENT = join(import.meta.dirname, "../../agent/bin/strato-agent");

/**
 * `strato-agent enroll` into the operator's organization (against `url`: the control plane or a
 * proxy in front of it), then approval through the REST API; returns the host id.
 */
export async function enrollApproved(
  sandbox: { spawn(command: string, args: string[], env: Record<string, string>): Spawned },
  ops: Awaited<ReturnType<typeof operatorApi>>,
  agent: { url: string; stateDir: string; env: Record<string, string> },
): Promise<string> {
  const token = await ops.enrollmentToken();
  const enroll = sandbox.spawn(
    AGENT,
    ["enroll", "--url", agent.url, "--token", token, "--state-dir", agent.stateDir],
    agent.env,
  );
  expect(await enroll.exited, enroll.output()).toBe(0);
  const hostId = /"hostId":"(host_[0-9a-z]+)"/.exec(enroll.output())?.[1] ?? "";
  await ops.request(`/api/v1/hosts/${hostId}/approve`, "POST");
  return hostId;
}

/**
 * Creates a VM through the API and waits until the agent acked its work item and the item
 * finished; returns the operation and the ack delay (ms), which only a ring keeps well under the
 * 5 s polling.
 */
export async function pickUp(
  deps: Deps,
  ops: Awaited<ReturnType<typeof operatorApi>>,
  name: string,
  context: () => string,
): Promise<{ operationId: string; delay: number }> {
  const operationId = await ops.createVm(name);
  const delay = await until("the item to be acked", () => ackDelayMs(deps, operationId), {
    timeoutMs: 70_000,
    context,
  });
  await until("the item to finish", () => settled(deps, operationId), { context });
  return { operationId, delay };
}

/**
 * A 60 s `host.sleep` queued for the host, started by the ring of a VM made through the API (the
 * test's own enqueue cannot ring the server's doorbell), then cancelled through the REST API.
 * Returns how long the cancellation took to end it, and the ended row.
 */
export async function cancelRunningSleep(
  deps: Deps,
  ops: Awaited<ReturnType<typeof operatorApi>>,
  options: { hostId: string; name: string; agentOutput: () => string; context: () => string },
): Promise<{ itemId: string; ms: number; row: typeof workItems.$inferSelect }> {
  const { hostId, name, agentOutput, context } = options;
  const sleep = await enqueueWork(deps, {
    hostId,
    op: "host.sleep",
    params: { ms: 60_000 },
    resource: { kind: "host", id: hostId, uid: `${hostId}-${name}` },
    createdBy: "test",
  });
  await ops.createVm(`wakes-${name}`);
  await until(
    "the sleep to start",
    async () =>
      agentOutput().includes(`"msg":"executing work item","itemId":"${sleep.id}"`)
        ? true
        : undefined,
    { timeoutMs: 30_000, context },
  );
  const cancelledAt = Date.now();
  await ops.request(`/api/v1/hosts/${hostId}/work-items/${sleep.id}/cancel`, "POST");
  const row = await until(
    "the sleep to be cancelled",
    async () => {
      const item = await deps.db.query.workItems.findFirst({ where: eq(workItems.id, sleep.id) });
      return item?.state === "cancelled" ? item : undefined;
    },
    { timeoutMs: 30_000, context },
  );
  return { itemId: sleep.id, ms: Date.now() - cancelledAt, row };
}
