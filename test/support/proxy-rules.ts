import { DROP, type Outcome, type ProxiedResponse, type Rule } from "./agent-proxy";

export const CLAIM_PATH = "/api/v1/agent/claim";
export const TRUST_PATH = "/api/v1/agent/trust";

/** A claim response item as the control plane sends it. */
export type ClaimedItem = { id: string; seq: number; lease_epoch: number; token: string };
type ClaimBody = { items: ClaimedItem[]; [field: string]: unknown };

const isClaim = (method: string, path: string) => method === "POST" && path === CLAIM_PATH;

function claimBody(outcome: Outcome): ClaimBody | undefined {
  if (outcome === DROP || outcome.status !== 200) return undefined;
  return JSON.parse(outcome.body) as ClaimBody;
}

function withBody(outcome: ProxiedResponse, body: ClaimBody): ProxiedResponse {
  return { ...outcome, body: JSON.stringify(body) };
}

/**
 * Replaces the token of `itemId` in the next `times` claim responses that carry it (a man in the
 * middle changing a work item on its way to the host).
 */
export function tamperItem(
  itemId: string,
  forge: (token: string) => string | Promise<string>,
  times = 1,
): Rule {
  let left = times;
  return async (request, next) => {
    const outcome = await next(request);
    if (!isClaim(request.method, request.path) || left === 0 || outcome === DROP) return outcome;
    const body = claimBody(outcome);
    const item = body?.items.find((i) => i.id === itemId);
    if (!body || !item) return outcome;
    left -= 1;
    item.token = await forge(item.token);
    return withBody(outcome, body);
  };
}

/** Adds `extra` (an earlier claim response's item) to the next claim response: a replay. */
export function replayInNextClaim(extra: ClaimedItem): Rule {
  let done = false;
  return async (request, next) => {
    const outcome = await next(request);
    const body = isClaim(request.method, request.path) && !done ? claimBody(outcome) : undefined;
    if (!body || outcome === DROP) return outcome;
    done = true;
    body.items.push(extra);
    return withBody(outcome, body);
  };
}

/**
 * The first claim response carrying `itemId` reaches the control plane but never the agent (the
 * connection is reset after the control plane answered).
 */
export function loseClaimResponseWith(itemId: string): Rule {
  let done = false;
  return async (request, next) => {
    const outcome = await next(request);
    const body = isClaim(request.method, request.path) && !done ? claimBody(outcome) : undefined;
    if (!body?.items.some((i) => i.id === itemId)) return outcome;
    done = true;
    return DROP;
  };
}

/** Every request is refused at the connection level while the rule is installed. */
export const partition: Rule = async () => DROP;

/** Finds the claim response item for `itemId` among exchanges (what the host was sent). */
export function deliveredItem(
  exchanges: { request: { path: string }; outcome: Outcome }[],
  itemId: string,
): ClaimedItem | undefined {
  for (const e of exchanges) {
    if (e.request.path !== CLAIM_PATH) continue;
    const item = claimBody(e.outcome)?.items.find((i) => i.id === itemId);
    if (item) return item;
  }
  return undefined;
}

/** The first claim response carrying `itemId` announces trust document `version` instead. */
export function announceTrustVersion(
  itemId: string,
  version: number,
  options: { everyClaim?: boolean } = {},
): Rule {
  let done = false;
  return async (request, next) => {
    const outcome = await next(request);
    const body = isClaim(request.method, request.path) && !done ? claimBody(outcome) : undefined;
    if (!body?.items.some((i) => i.id === itemId) || outcome === DROP) return outcome;
    done = options.everyClaim !== true;
    return withBody(outcome, { ...body, trust_version: version });
  };
}

/**
 * Answers the next `GET /trust` with `bundle` (a compact JWS, or anything else a proxy may send)
 * instead of the control plane's.
 */
export function serveTrustBundle(bundle: unknown): Rule {
  let done = false;
  return async (request, next) => {
    if (done || request.method !== "GET" || !request.path.startsWith(TRUST_PATH)) {
      return next(request);
    }
    done = true;
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ trust: bundle }),
    };
  };
}
