import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the agent sent it (body as text). */
export type ProxiedRequest = {
  method: string;
  /** Path and query, e.g. `/api/v1/agent/claim`. */
  path: string;
  headers: Record<string, string>;
  body: string;
};

/** One response as the agent will receive it. */
export type ProxiedResponse = { status: number; headers: Record<string, string>; body: string };

/** The connection is reset without an answer (a partition, a lost response). */
export const DROP = Symbol("drop");
export type Outcome = ProxiedResponse | typeof DROP;

/**
 * A rule sees every request and decides what the agent gets: call `next` to pass it on (to later
 * rules and finally the control plane) and change what comes back, or answer by itself.
 */
export type Rule = (
  request: ProxiedRequest,
  next: (request: ProxiedRequest) => Promise<Outcome>,
) => Promise<Outcome>;

/** What passed through the proxy, in order, for assertions. */
export type Exchange = { at: number; request: ProxiedRequest; outcome: Outcome };

// Hop-by-hop and framing headers are the proxy's own business on each side.
const SKIP = new Set([
  "host",
  "connection",
  "keep-alive",
  "content-length",
  "transfer-encoding",
  "content-encoding",
]);

function copyHeaders(from: Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of from) if (!SKIP.has(name.toLowerCase())) out[name] = value;
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A loopback HTTP proxy between the agent and the control plane, for fault and tampering tests:
 * rules (newest first) may rewrite, answer, delay or drop any request or response. The agent is
 * enrolled with the proxy's URL, so every call it makes passes through here.
 */
export class AgentProxy {
  readonly exchanges: Exchange[] = [];
  #rules: Rule[] = [];
  #server = createServer((req, res) => void this.#serve(req, res));
  #upstream: string;
  url = "";

  constructor(upstream: string) {
    this.#upstream = upstream.replace(/\/+$/, "");
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Adds a rule in front of the others; returns a function that removes it. */
  use(rule: Rule): () => void {
    this.#rules = [rule, ...this.#rules];
    return () => {
      this.#rules = this.#rules.filter((r) => r !== rule);
    };
  }

  /** Exchanges whose request matches, e.g. `proxy.seen("POST", "/api/v1/agent/claim")`. */
  seen(method: string, pathPrefix: string): Exchange[] {
    return this.exchanges.filter(
      (e) => e.request.method === method && e.request.path.startsWith(pathPrefix),
    );
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request: ProxiedRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: copyHeaders(
        Object.entries(req.headers).flatMap(([k, v]) =>
          v === undefined ? [] : [[k, Array.isArray(v) ? v.join(", ") : v] as [string, string]],
        ),
      ),
      body: await readBody(req),
    };
    const chain = this.#rules.reduceRight<(r: ProxiedRequest) => Promise<Outcome>>(
      (next, rule) => (r) => rule(r, next),
      (r) => this.#forward(r),
    );
    let outcome: Outcome;
    try {
      outcome = await chain(request);
    } catch {
      outcome = DROP;
    }
    this.exchanges.push({ at: Date.now(), request, outcome });
    if (outcome === DROP) {
      res.socket?.resetAndDestroy();
      return;
    }
    res.writeHead(outcome.status, outcome.headers);
    res.end(outcome.body);
  }

  async #forward(request: ProxiedRequest): Promise<Outcome> {
    const upstream = await fetch(`${this.#upstream}${request.path}`, {
      method: request.method,
      headers: request.headers,
      ...(request.method === "GET" || request.method === "HEAD" ? {} : { body: request.body }),
    });
    return {
      status: upstream.status,
      headers: copyHeaders(upstream.headers.entries()),
      body: await upstream.text(),
    };
  }
}
