import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { parseArgs, UsageError } from "./args";
import { createEventMonitor } from "./events";
import { exitTrigger, FaultConfigError, parseFaults } from "./faults";
import { serveHttp } from "./http-server";
import { BUILD_VERSION } from "./lifecycle";
import { Machine } from "./machine";
import { createRouter } from "./routes";
import { loadSchemas } from "./schema";

/** Another live process holds `<socket>.lock` (stand-in for CH's OFD lock, see docs). */
function lockHeldElsewhere(lockPath: string): boolean {
  if (!existsSync(lockPath)) return false;
  const pid = Number(readFileSync(lockPath, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function fail(message: string): never {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
}

function main(): void {
  let options: ReturnType<typeof parseArgs>;
  let faults: ReturnType<typeof parseFaults>;
  try {
    options = parseArgs(process.argv.slice(2));
    faults = parseFaults(process.env, options.sim);
  } catch (error) {
    if (error instanceof UsageError || error instanceof FaultConfigError) fail(error.message);
    throw error;
  }
  if (options.version) {
    process.stdout.write(`cloud-hypervisor ${BUILD_VERSION}\n`);
    return;
  }
  if (options.help) {
    process.stdout.write(
      "cloud-hypervisor (simulator)\n  --api-socket <path=…|fd=…>  --event-monitor <path=…|fd=…>\n  --log-file <file>  -v  --no-shutdown  --version  --sim-<fault> <value>\n",
    );
    return;
  }
  process.umask(0o077); // like CH's main: socket, log and event files are 0600
  const start = Date.now();
  const logFile = options.logFile;
  const log = (line: string) => {
    if (options.verbosity === 0) return;
    const text = `cloud-hypervisor: ${((Date.now() - start) / 1000).toFixed(6)}s: <sim> INFO: ${line}\n`;
    if (logFile) appendFileSync(logFile, text);
    else process.stderr.write(text);
  };
  const events = createEventMonitor(options.eventMonitor, options.verbosity > 0 ? log : undefined);
  events.emit("vmm", "starting");

  const api = options.apiSocket;
  const socketPath = api?.kind === "path" ? api.path : undefined;
  const lockPath = socketPath ? `${socketPath}.lock` : undefined;
  let server: Server | undefined;
  const exit = (code: number, clean: boolean) => {
    events.close();
    // A clean exit removes the socket; a crash leaves it behind (ECONNREFUSED for clients).
    if (clean && socketPath) rmSync(socketPath, { force: true });
    server?.close();
    process.exit(code);
  };

  const machine = new Machine({
    emit: events.emit,
    faults,
    noShutdown: options.noShutdown,
    seed: socketPath ?? String(process.pid),
    log,
    exit,
  });
  if (lockPath && lockHeldElsewhere(lockPath))
    fail(`API socket ${socketPath} is already in use by another running instance`);
  if (lockPath) writeFileSync(lockPath, String(process.pid));
  if (socketPath) rmSync(socketPath, { force: true }); // stale socket from a crash

  if (api) {
    server = createServer();
    const shouldExit = exitTrigger(faults);
    serveHttp(
      server,
      createRouter({
        machine,
        schemas: loadSchemas(),
        shouldExit,
        crash: () => {
          events.close();
          process.exit(faults.exitCode);
        },
      }),
    );
    server.on("error", (error) => fail(`Error starting the API server: ${error.message}`));
    if (api.kind === "fd") server.listen({ fd: api.fd });
    else server.listen(api.path);
  } else {
    setInterval(() => {}, 1 << 30); // no API: CH still runs until signalled
  }
  log(`simulator started, pid ${process.pid}`);

  // SIGTERM/SIGINT: hard-stop the vCPUs and shut the VMM down like vmm.shutdown (notes §b).
  for (const signal of ["SIGTERM", "SIGINT"] as const)
    process.on(signal, () => void machine.run(() => machine.vmmShutdown()));
}

main();
