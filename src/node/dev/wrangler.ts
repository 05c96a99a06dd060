import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Environment that keeps wrangler quiet and offline: no telemetry, no update check, no reports. */
export const WRANGLER_QUIET_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  // The update check runs while printing the banner; hiding the banner skips it.
  WRANGLER_HIDE_BANNER: "true",
  // Miniflare otherwise downloads a sample `Request.cf` object from Cloudflare at start.
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
} as const;

export type WranglerDevOptions = {
  port: number;
  inspectorPort: number;
  persistTo: string;
  vars: Record<string, string>;
  /** The child's environment (PATH and friends); the quiet switches are added on top. */
  env: NodeJS.ProcessEnv;
  /** Where wrangler's own output goes; the dev runner shows it, tests may drop it. */
  stdio?: "inherit" | "ignore";
};

/**
 * Runs the Worker under Miniflare with `wrangler dev`, with the Node running this script (the
 * repo's Node >= 22), in its own process group so it can be stopped with everything it spawned.
 */
export function startWranglerDev(options: WranglerDevOptions): ChildProcess {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve("wrangler/package.json")), "bin/wrangler.js");
  const args = [
    bin,
    "dev",
    "--ip=127.0.0.1",
    `--port=${options.port}`,
    `--inspector-port=${options.inspectorPort}`,
    `--persist-to=${options.persistTo}`,
    "--show-interactive-dev-session=false",
    "--log-level=warn",
    // Cron triggers only run on request in wrangler dev (`/__scheduled`, see cron.ts).
    "--test-scheduled",
    ...Object.entries(options.vars).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
  return spawn(process.execPath, args, {
    env: { ...options.env, ...WRANGLER_QUIET_ENV },
    stdio: ["ignore", options.stdio ?? "inherit", options.stdio ?? "inherit"],
    detached: true,
  });
}

/** Stops the process group: SIGTERM, then SIGKILL if it lingers. Resolves once it has exited. */
export function stopProcessGroup(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    return Promise.resolve();
  }
  const pid = child.pid;
  return new Promise((resolve) => {
    const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    signalGroup(pid, "SIGTERM");
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
