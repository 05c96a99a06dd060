import { Agent, type Dispatcher, request } from "undici";
import {
  type EnrollRequest,
  type EnrollResponse,
  enrollResponseSchema,
  type TokenResponse,
  tokenResponseSchema,
} from "../../src/protocol/agent-api";
import { type AgentKey, tokenAssertion } from "./identity";

/** Answers slower than this do not move the server clock offset. */
const MAX_CLOCK_SAMPLE_RTT_MS = 2_000;
export const API_PREFIX = "/api/v1/agent";

/** A non-2xx answer from the control plane, with its problem `code`. */
export class ControlPlaneError extends Error {
  override readonly name = "ControlPlaneError";
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
  /** Worth retrying with backoff (design §2.11): network-ish, 5xx, 429, 409 in flight. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 429 || this.code === "idempotency_in_flight";
  }
}

export type Reply = { status: number; body: unknown; headers: Record<string, string> };

/** Full jitter: U(0, min(cap, base·2^n)) (design §2.11). */
export function backoffMs(attempt: number, capMs = 60_000, baseMs = 1_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

export function jitter(ms: number, fraction = 0.2): number {
  return ms * (1 - fraction + Math.random() * 2 * fraction);
}

function header(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The agent's only way out: HTTPS to the control plane (undici). It keeps the server clock offset
 * (design §2.10) from `server_time_ms`/`Date`, and a 15 min access token obtained with a
 * JWT-bearer assertion signed by the host key.
 */
export class ControlPlaneClient {
  readonly baseUrl: string;
  readonly #dispatcher: Dispatcher;
  #offsetMs = 0;
  #samples = 0;
  #token: { value: string; expiresAt: number } | undefined;
  identity:
    | {
        hostId: string;
        issuer: string;
        key: AgentKey;
        /**
         * Other keys to try when the control plane refuses this one (a rotation whose answer
         * was lost, or one done by `strato-agent rotate-key` beside this process); the first
         * accepted becomes the key, and its `onAccepted` runs.
         */
        fallback?: () => Promise<{ key: AgentKey; onAccepted: () => void }[]>;
      }
    | undefined;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#dispatcher = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: 10_000 } });
  }

  /** The server-corrected clock. */
  now(): number {
    return Date.now() + this.#offsetMs;
  }

  get offsetMs(): number {
    return Math.round(this.#offsetMs);
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  #learnClock(serverMs: number, sentAt: number, receivedAt: number): void {
    // A long poll is answered at the end of its hold, not halfway: its time says little, and
    // neither does any slow answer.
    if (receivedAt - sentAt > MAX_CLOCK_SAMPLE_RTT_MS) return;
    const sample = serverMs - (sentAt + receivedAt) / 2;
    this.#samples += 1;
    // EWMA, but the first sample is taken as is.
    this.#offsetMs = this.#samples === 1 ? sample : this.#offsetMs * 0.8 + sample * 0.2;
  }

  /** One request; throws ControlPlaneError on non-2xx (304 counts as success). */
  async send(
    method: "GET" | "POST",
    path: string,
    options: {
      body?: unknown;
      auth?: boolean;
      idempotencyKey?: string;
      timeoutMs?: number;
      signal?: AbortSignal;
    } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
    if (options.auth !== false) headers.authorization = `Bearer ${await this.accessToken()}`;
    const sentAt = Date.now();
    const res = await request(`${this.baseUrl}${API_PREFIX}${path}`, {
      method,
      headers,
      dispatcher: this.#dispatcher,
      headersTimeout: options.timeoutMs ?? 35_000,
      bodyTimeout: options.timeoutMs ?? 35_000,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const receivedAt = Date.now();
    const text = await res.body.text();
    let body: unknown = null;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const serverTime =
      typeof body === "object" && body !== null && "server_time_ms" in body
        ? Number((body as { server_time_ms: unknown }).server_time_ms)
        : Date.parse(header(res.headers, "date") ?? "");
    if (Number.isFinite(serverTime)) this.#learnClock(serverTime, sentAt, receivedAt);
    const flat: Record<string, string> = {};
    for (const name of Object.keys(res.headers)) {
      const v = header(res.headers, name);
      if (v !== undefined) flat[name] = v;
    }
    // A redirect is not an answer from the control plane (an SSO or maintenance proxy, say).
    if ((res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 304) {
      return { status: res.statusCode, body, headers: flat };
    }
    const problem = (typeof body === "object" && body !== null ? body : {}) as {
      code?: unknown;
      detail?: unknown;
    };
    const retryAfter = Number(flat["retry-after"]);
    const err = new ControlPlaneError(
      res.statusCode,
      typeof problem.code === "string" ? problem.code : `http_${res.statusCode}`,
      typeof problem.detail === "string" ? problem.detail : text.slice(0, 200),
      Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
    );
    if (res.statusCode === 401 && options.auth !== false && err.code === "unauthenticated") {
      this.#token = undefined;
    }
    throw err;
  }

  async enroll(body: EnrollRequest): Promise<EnrollResponse> {
    const reply = await this.send("POST", "/enroll", { body, auth: false });
    return enrollResponseSchema.parse(reply.body);
  }

  async #grantWithFallback(
    id: NonNullable<ControlPlaneClient["identity"]>,
    grant: (key: AgentKey) => Promise<TokenResponse>,
    refused: ControlPlaneError,
  ): Promise<TokenResponse> {
    for (const candidate of (await id.fallback?.()) ?? []) {
      if (candidate.key.thumbprint === id.key.thumbprint) continue;
      try {
        const token = await grant(candidate.key);
        this.identity = { ...id, key: candidate.key };
        candidate.onAccepted();
        return token;
      } catch (error) {
        if (!(error instanceof ControlPlaneError && error.code === "invalid_assertion"))
          throw error;
      }
    }
    throw refused;
  }

  /** A cached access token, refreshed a minute before it expires; one retry on clock skew. */
  async accessToken(): Promise<string> {
    if (this.#token && this.#token.expiresAt - 60_000 > Date.now()) return this.#token.value;
    const id = this.identity;
    if (!id) throw new Error("not enrolled");
    const grant = async (key: AgentKey) => {
      const assertion = await tokenAssertion(key, id.hostId, id.issuer, this.now());
      const reply = await this.send("POST", "/token", {
        auth: false,
        body: { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion },
      });
      return tokenResponseSchema.parse(reply.body);
    };
    let token: TokenResponse;
    try {
      token = await grant(id.key);
    } catch (error) {
      // The offset was just re-learned from the problem's server_time_ms / Date header.
      if (error instanceof ControlPlaneError && error.code === "clock_skew") {
        token = await grant(id.key);
      } else if (error instanceof ControlPlaneError && error.code === "invalid_assertion") {
        token = await this.#grantWithFallback(id, grant, error);
      } else throw error;
    }
    this.#token = { value: token.access_token, expiresAt: Date.now() + token.expires_in * 1000 };
    return token.access_token;
  }
}
