import { parseArgs } from "node:util";
import { startLibsqlHttpServer } from "./server";

/**
 * `tsx src/node/libsql-http/cli.ts --db .data/strato.db [--port 8080] [--auth-token T] [--verbose]`
 * Serves the database over Hrana-over-HTTP on 127.0.0.1 and prints the URL.
 */
const { values } = parseArgs({
  options: {
    db: { type: "string", default: ".data/strato.db" },
    port: { type: "string", default: "8080" },
    "auth-token": { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`Invalid --port: ${values.port}`);
  process.exit(2);
}

const authToken = values["auth-token"];
const server = await startLibsqlHttpServer({
  dbPath: values.db,
  port,
  ...(authToken === undefined ? {} : { authToken }),
  ...(values.verbose ? { logger: (line: object) => console.log(JSON.stringify(line)) } : {}),
});
console.log(`libSQL HTTP server for ${values.db} listening on ${server.url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
