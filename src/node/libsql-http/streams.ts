import { randomBytes } from "node:crypto";
import type { Connection } from "./connection";
import { ProtocolError, StreamExpiredError } from "./errors";
import type { ConnectionPool } from "./pool";

/** A Hrana stream: one connection plus the SQL texts stored on it, reached through batons. */
export interface HranaStream {
  readonly id: string;
  /** `null` once a `close` request ran; the stream is dropped when the request finishes. */
  conn: Connection | null;
  readonly sqls: Map<number, string>;
  nonce: string;
  acquired: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface StreamRegistryOptions {
  pool: ConnectionPool;
  idleTimeoutMs: number;
  onExpire?: (streamId: string) => void;
}

/** Expired ids are remembered so a late request gets "stream expired", not "invalid baton". */
const EXPIRED_MEMORY_MS = 5 * 60_000;
const EXPIRED_MEMORY_MAX = 10_000;

const randomToken = (bytes: number) => randomBytes(bytes).toString("base64url");

/**
 * Batons are `<stream id>.<nonce>`; the nonce changes on every response, so each baton works once
 * and a request can only continue the stream from the latest response.
 */
export class StreamRegistry {
  readonly #options: StreamRegistryOptions;
  readonly #live = new Map<string, HranaStream>();
  readonly #expired = new Map<string, number>();

  constructor(options: StreamRegistryOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#live.size;
  }

  /** Opens a new stream (no baton) or takes exclusive use of the baton's stream. */
  acquire(baton: string | null | undefined): HranaStream {
    if (baton === null || baton === undefined) {
      const stream: HranaStream = {
        id: randomToken(12),
        conn: this.#options.pool.acquire(),
        sqls: new Map(),
        nonce: "",
        acquired: true,
        timer: undefined,
      };
      this.#live.set(stream.id, stream);
      return stream;
    }
    const [id = "", nonce] = baton.split(".");
    const stream = this.#live.get(id);
    if (stream === undefined) {
      if (this.#expired.has(id)) throw new StreamExpiredError();
      throw new ProtocolError("Received an invalid baton");
    }
    if (stream.acquired || stream.nonce !== nonce) {
      throw new ProtocolError("Received a baton that has already been used");
    }
    clearTimeout(stream.timer);
    stream.acquired = true;
    return stream;
  }

  /** Ends a request on the stream: returns the next baton, or null if the stream was closed. */
  release(stream: HranaStream): string | null {
    stream.acquired = false;
    if (stream.conn === null) {
      this.#live.delete(stream.id);
      return null;
    }
    stream.nonce = randomToken(18);
    stream.timer = setTimeout(() => this.#expire(stream), this.#options.idleTimeoutMs);
    stream.timer.unref();
    return `${stream.id}.${stream.nonce}`;
  }

  /** The `close` request: the connection goes back to the pool (rolling back an open transaction). */
  closeConnection(stream: HranaStream): void {
    if (stream.conn !== null) this.#options.pool.release(stream.conn);
    stream.conn = null;
  }

  /** Drops a stream after a failed request, as sqld does. */
  discard(stream: HranaStream): void {
    this.closeConnection(stream);
    this.release(stream);
  }

  #expire(stream: HranaStream): void {
    if (stream.acquired || this.#live.get(stream.id) !== stream) return;
    this.closeConnection(stream);
    this.#live.delete(stream.id);
    const now = Date.now();
    this.#expired.set(stream.id, now);
    for (const [id, at] of this.#expired) {
      if (now - at < EXPIRED_MEMORY_MS && this.#expired.size <= EXPIRED_MEMORY_MAX) break;
      this.#expired.delete(id);
    }
    this.#options.onExpire?.(stream.id);
  }

  closeAll(): void {
    for (const stream of this.#live.values()) {
      clearTimeout(stream.timer);
      this.closeConnection(stream);
    }
    this.#live.clear();
    this.#expired.clear();
  }
}
