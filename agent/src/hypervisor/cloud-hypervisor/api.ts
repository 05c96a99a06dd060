import { Client, errors } from "undici";
import {
  CloudHypervisorApiError,
  decodeErrorBody,
  VmmTimeoutError,
  VmmUnavailableError,
} from "./errors";
import { type BigJson, parseBigJson } from "./json";

export type ChVmState = "Created" | "Running" | "Shutdown" | "Paused" | "BreakPoint";

export type ChVmInfo = {
  config: Record<string, unknown>;
  state: ChVmState;
  memory_actual_size?: number;
  device_tree?: Record<string, { id?: string; pci_bdf?: string }>;
};

export type ChPing = { build_version?: string; version: string; pid?: number; features?: string[] };
export type ChPciDeviceInfo = { id: string; bdf: string };

/** Timeouts per call kind (notes §g): short for ping/info, long for boot/shutdown/snapshot. */
export type ApiTimeouts = { shortMs: number; normalMs: number; longMs: number };
export const DEFAULT_TIMEOUTS: ApiTimeouts = { shortMs: 2_000, normalMs: 10_000, longMs: 60_000 };

const LONG = new Set([
  "vm.boot",
  "vm.shutdown",
  "vm.reboot",
  "vm.snapshot",
  "vm.restore",
  "vm.create",
]);
const SHORT = new Set(["vmm.ping", "vm.info", "vm.counters"]);

type Reply = { status: number; text: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** ENOENT/ECONNREFUSED/ECONNRESET etc.: the socket has no live VMM behind it. */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === "ENOENT" ||
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    code === "UND_ERR_SOCKET" ||
    code === "UND_ERR_CLOSED" ||
    error instanceof errors.SocketError ||
    error instanceof errors.ClientClosedError
  );
}

/**
 * One VMM's REST API over its Unix socket: a single undici connection, one request at a time
 * (CH serves requests serially anyway), bodies sent as JSON strings, never streams.
 */
export class CloudHypervisorApi {
  readonly socketPath: string;
  readonly #timeouts: ApiTimeouts;
  #client: Client | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(socketPath: string, timeouts: ApiTimeouts = DEFAULT_TIMEOUTS) {
    this.socketPath = socketPath;
    this.#timeouts = timeouts;
  }

  #getClient(): Client {
    if (!this.#client || this.#client.destroyed || this.#client.closed)
      this.#client = new Client("http://localhost", {
        connect: { socketPath: this.socketPath },
        pipelining: 1,
        keepAliveTimeout: 30_000,
      });
    return this.#client;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client && !client.destroyed) await client.destroy().catch(() => undefined);
  }

  /** Sends one request through the serial queue and returns the raw answer. */
  call(
    method: "GET" | "PUT",
    endpoint: string,
    body?: unknown,
    timeoutMs?: number,
  ): Promise<Reply> {
    const run = () => this.#send(method, endpoint, body, timeoutMs);
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #send(method: "GET" | "PUT", endpoint: string, body: unknown, timeoutMs?: number) {
    const timeout =
      timeoutMs ??
      (SHORT.has(endpoint)
        ? this.#timeouts.shortMs
        : LONG.has(endpoint)
          ? this.#timeouts.longMs
          : this.#timeouts.normalMs);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    try {
      const response = await this.#getClient().request({
        path: `/api/v1/${endpoint}`,
        method,
        ...(payload !== undefined
          ? { body: payload, headers: { "content-type": "application/json" } }
          : {}),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const text = await response.body.text();
      return { status: response.statusCode, text };
    } catch (error) {
      // A broken connection cannot be reused; the next call reconnects.
      await this.close();
      if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError)
        throw new VmmTimeoutError(`${endpoint}: no answer within ${timeout} ms`, { cause: error });
      if (isConnectionError(error))
        throw new VmmUnavailableError(`${endpoint}: VMM socket ${this.socketPath} unavailable`, {
          cause: error,
        });
      throw error;
    }
  }

  /** A call whose success has no body of interest (204, or 200 from add-* which we parse). */
  async expectOk(method: "GET" | "PUT", endpoint: string, body?: unknown): Promise<Reply> {
    const reply = await this.call(method, endpoint, body);
    if (reply.status < 200 || reply.status >= 300)
      throw new CloudHypervisorApiError(endpoint, reply.status, decodeErrorBody(reply.text));
    return reply;
  }

  async #json(endpoint: string): Promise<unknown> {
    const reply = await this.expectOk("GET", endpoint);
    return JSON.parse(reply.text);
  }

  async ping(timeoutMs?: number): Promise<ChPing> {
    const reply = await this.call("GET", "vmm.ping", undefined, timeoutMs);
    if (reply.status !== 200)
      throw new CloudHypervisorApiError("vmm.ping", reply.status, decodeErrorBody(reply.text));
    const value: unknown = JSON.parse(reply.text);
    if (!isRecord(value) || typeof value.version !== "string")
      throw new CloudHypervisorApiError("vmm.ping", reply.status, ["unexpected ping body"]);
    return value as ChPing;
  }

  async info(): Promise<ChVmInfo> {
    const value = await this.#json("vm.info");
    if (!isRecord(value) || typeof value.state !== "string" || !isRecord(value.config))
      throw new CloudHypervisorApiError("vm.info", 200, ["unexpected vm.info body"]);
    return value as ChVmInfo;
  }

  /** Counters parsed without precision loss: u64::MAX stays exact. */
  async counters(): Promise<Record<string, Record<string, bigint>>> {
    const reply = await this.expectOk("GET", "vm.counters");
    const value: BigJson = parseBigJson(reply.text);
    const out: Record<string, Record<string, bigint>> = {};
    if (!isRecord(value)) return out;
    for (const [device, counters] of Object.entries(value)) {
      if (!isRecord(counters)) continue;
      const row: Record<string, bigint> = {};
      for (const [name, v] of Object.entries(counters)) if (typeof v === "bigint") row[name] = v;
      out[device] = row;
    }
    return out;
  }

  /** add-*: 200 {id, bdf} when hot-plugged, 204 when cold-added to the config. */
  async add(endpoint: string, body: unknown): Promise<ChPciDeviceInfo | undefined> {
    const reply = await this.expectOk("PUT", endpoint, body);
    if (reply.status === 204 || reply.text === "") return undefined;
    const value: unknown = JSON.parse(reply.text);
    if (isRecord(value) && typeof value.id === "string" && typeof value.bdf === "string")
      return { id: value.id, bdf: value.bdf };
    return undefined;
  }

  put(endpoint: string, body?: unknown): Promise<Reply> {
    return this.expectOk("PUT", endpoint, body);
  }
}
