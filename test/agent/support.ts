import { expect } from "vitest";
import {
  type AgentKey,
  enrollmentProof,
  generateAgentKey,
  tokenAssertion,
} from "../../agent/src/identity";
import { organizations } from "../../src/db/schema";
import type { ServiceContext } from "../../src/domain/context";
import { createEnrollmentToken } from "../../src/domain/hosts/create-enrollment-token";
import { decideHost, type HostDecision } from "../../src/domain/hosts/transition";
import { enqueueWork } from "../../src/domain/work/enqueue";
import type { HostFacts } from "../../src/protocol/agent-api";
import type { Harness } from "../support/harness";

export const FACTS: HostFacts = {
  hostname: "hv-01",
  machine_id: "0123456789abcdef0123456789abcdef",
  cpus: 16,
  memory_bytes: 64 * 2 ** 30,
  disk_bytes: 2 * 2 ** 40,
  kernel: "6.8.0",
  kvm: true,
  agent_version: "0.1.0",
};

export function system(h: Harness): ServiceContext {
  return { deps: h.deps, actor: { kind: "system" }, requestId: "req_test" };
}

export async function createOrg(h: Harness): Promise<string> {
  const id = h.deps.ids.next("organization");
  const slug = `org-${id.slice(-8)}`;
  const now = h.clock.now();
  await h.deps.db
    .insert(organizations)
    .values({ id, slug, name: slug, createdAt: now, updatedAt: now });
  return id;
}

export async function mintToken(
  h: Harness,
  orgId: string,
  opts: { maxUses?: number; ttlMs?: number } = {},
): Promise<string> {
  const { secret } = await createEnrollmentToken(system(h), {
    orgId,
    description: "test",
    scope: "site-a",
    maxUses: opts.maxUses ?? 5,
    ...(opts.ttlMs === undefined ? {} : { ttlMs: opts.ttlMs }),
  });
  return secret;
}

type CallInit = {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
};

export async function call(h: Harness, path: string, init: CallInit = {}): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return h.request(`/api/v1/agent${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

export async function enrollHost(
  h: Harness,
  secret: string,
  facts: HostFacts = FACTS,
): Promise<{ res: Response; key: AgentKey }> {
  const { key } = await generateAgentKey();
  const proof = await enrollmentProof(key, secret, h.clock.now());
  const res = await call(h, "/enroll", {
    body: { token: secret, public_jwk: key.publicJwk, facts, proof },
  });
  return { res, key };
}

export async function accessToken(h: Harness, key: AgentKey, hostId: string): Promise<string> {
  const assertion = await tokenAssertion(key, hostId, h.deps.config.agent.issuer, h.clock.now());
  const res = await call(h, "/token", {
    body: { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

export type ReadyHost = { orgId: string; hostId: string; key: AgentKey; token: string };

/** An org, an enrolled host in the given state (approved by default) and an access token. */
export async function readyHost(
  h: Harness,
  decision: HostDecision | null = "approve",
): Promise<ReadyHost> {
  const orgId = await createOrg(h);
  const secret = await mintToken(h, orgId);
  const { res, key } = await enrollHost(h, secret);
  expect(res.status).toBe(201);
  const { host_id: hostId } = (await res.json()) as { host_id: string };
  if (decision) await decideHost(system(h), hostId, decision);
  const token = await accessToken(h, key, hostId);
  return { orgId, hostId, key, token };
}

export async function problem(res: Response, status: number, code: string): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(JSON.parse(text)).toMatchObject({ code });
}

/** A `host.noop` item queued for the host, claimed by it (epoch 1) and acked `accepted`. */
export async function acceptedItem(h: Harness, host: ReadyHost): Promise<string> {
  const { id } = await enqueueWork(h.deps, {
    hostId: host.hostId,
    op: "host.noop",
    resource: { kind: "host", id: host.hostId, uid: host.hostId },
    createdBy: "test",
  });
  const claimed = await call(h, "/claim", { token: host.token, body: { cursor: 0, max_items: 5 } });
  expect(claimed.status).toBe(200);
  const ack = await call(h, `/items/${id}/ack`, {
    token: host.token,
    body: { status: "accepted", lease_epoch: 1 },
  });
  expect(ack.status).toBe(200);
  return id;
}
