import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, resolve } from "node:path";
import { sendError } from "./http-io";
import type { HranaContext } from "./pipeline";
import { ConnectionPool } from "./pool";
import { type RequestLog, route } from "./router";
import { StreamRegistry } from "./streams";

export interface LibsqlHttpServerOptions {
  /** Database file; created (with its directory) if missing. */
  dbPath: string;
  /** Loopback only (127.0.0.0/8, ::1 or localhost); anything else throws. Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Streams (batons) idle for longer are rolled back and closed. Default 10 000, like sqld. */
  streamIdleTimeoutMs?: number;
  /** Larger request bodies get HTTP 413. Default 10 MiB. */
  maxRequestBytes?: number;
  /** How long a statement keeps retrying SQLITE_BUSY before failing with it. Default 5 000. */
  busyTimeoutMs?: number;
  /** If set, Hrana endpoints require `Authorization: Bearer <token>` (401 otherwise). */
  authToken?: string;
  /** Report extended codes (SQLITE_CONSTRAINT_UNIQUE) instead of sqld's primary ones. */
  extendedErrorCodes?: boolean;
  /** Receives one structured object per HTTP request (and per expired stream). */
  logger?: (line: Record<string, unknown>) => void;
}

export interface LibsqlHttpServer {
  /** `http://127.0.0.1:<port>`, usable as a `@libsql/client` URL. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const SERVER_VERSION = "strato-libsql-http/0.1.0 (sqld-compatible Hrana over HTTP, JSON)";

function loopbackHost(host: string): string {
  if (host === "localhost") return "127.0.0.1";
  if (host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)) return host;
  throw new Error(`libsql-http: refusing to bind to ${host}; only loopback addresses are allowed`);
}

/**
 * Serves a libSQL database file over the Hrana-over-HTTP protocol (what `@libsql/client` speaks to
 * sqld/Turso), so the Worker can use its production client code against a local database.
 */
export async function startLibsqlHttpServer(
  options: LibsqlHttpServerOptions,
): Promise<LibsqlHttpServer> {
  const host = loopbackHost(options.host ?? "127.0.0.1");
  if (options.dbPath === "" || options.dbPath.startsWith(":memory:")) {
    throw new Error("libsql-http: dbPath must be a file (each stream opens its own connection)");
  }
  const dbPath = resolve(options.dbPath);
  mkdirSync(dirname(dbPath), { recursive: true });
  const log = options.logger ?? (() => {});

  const pool = new ConnectionPool(dbPath);
  pool.init();
  const registry = new StreamRegistry({
    pool,
    idleTimeoutMs: options.streamIdleTimeoutMs ?? 10_000,
    onExpire: (stream) => log({ msg: "libsql-http stream expired", stream }),
  });
  const hrana: HranaContext = {
    registry,
    busyTimeoutMs: options.busyTimeoutMs ?? 5_000,
    errors: { extendedCodes: options.extendedErrorCodes ?? false },
  };
  const routerOptions = {
    hrana,
    maxRequestBytes: options.maxRequestBytes ?? 10 * 1024 * 1024,
    authToken: options.authToken,
    version: SERVER_VERSION,
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    res.on("error", () => {}); // a client that went away must not crash the server
    const finish = (fields: RequestLog) =>
      log({
        msg: "libsql-http request",
        method: req.method,
        path: req.url,
        status: res.statusCode,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        ...fields,
      });
    route(req, res, routerOptions).then(finish, (err: unknown) => {
      // Never let one bad request take the server down.
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent && !res.destroyed) {
        sendError(res, 500, "INTERNAL_ERROR", `Internal error: ${message}`);
      } else res.destroy();
      finish({ error: "INTERNAL_ERROR", message });
    });
  });
  server.on("clientError", (_err, socket) => socket.destroy());

  try {
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once("error", rejectListen);
      server.listen(options.port ?? 0, host, () => {
        server.off("error", rejectListen);
        resolveListen();
      });
    });
  } catch (err) {
    registry.closeAll();
    pool.closeAll();
    throw err;
  }

  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
        registry.closeAll();
        pool.closeAll();
      });
      return closing;
    },
  };
}
