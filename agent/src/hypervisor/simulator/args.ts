/** Where CH listens or writes: a path (`path=<p>` or bare), or an inherited descriptor (`fd=<n>`). */
export type Endpoint = { kind: "path"; path: string } | { kind: "fd"; fd: number };

export type CliOptions = {
  version: boolean;
  help: boolean;
  apiSocket: Endpoint | undefined;
  eventMonitor: Endpoint | undefined;
  logFile: string | undefined;
  verbosity: number;
  noShutdown: boolean;
  /** `--sim-*` flags, merged over the `CH_SIM_*` environment by faults.ts. */
  sim: Record<string, string>;
};

export class UsageError extends Error {}

/** Flags that take a value and that the simulator accepts but ignores (sandboxing, etc.). */
const IGNORED_WITH_VALUE = new Set(["--seccomp", "--landlock-rules"]);
const IGNORED_BARE = new Set(["--landlock"]);
/** VM flags: the real binary would create and boot a VM from them; the driver never passes them. */
const VM_FLAGS = new Set([
  "--cpus",
  "--memory",
  "--kernel",
  "--firmware",
  "--disk",
  "--net",
  "--cmdline",
  "--initramfs",
  "--serial",
  "--console",
  "--restore",
]);

function endpoint(flag: string, value: string): Endpoint {
  // CH accepts a comma list such as `path=/x` or `fd=3`; a bare value is a path.
  for (const part of value.split(",")) {
    const [key, ...rest] = part.split("=");
    const v = rest.join("=");
    if (key === "path" && v) return { kind: "path", path: v };
    if (key === "fd" && /^\d+$/.test(v)) return { kind: "fd", fd: Number(v) };
  }
  if (!value.includes("=")) return { kind: "path", path: value };
  throw new UsageError(`Error parsing ${flag}: invalid value "${value}"`);
}

/** Parses the subset of `cloud-hypervisor`'s command line the driver and tests use. */
export function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = {
    version: false,
    help: false,
    apiSocket: undefined,
    eventMonitor: undefined,
    logFile: undefined,
    verbosity: 0,
    noShutdown: false,
    sim: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? "";
    const eq = raw.startsWith("--") ? raw.indexOf("=") : -1;
    // `--flag=value` and `--flag value` both work, as with clap.
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`${flag} requires a value`);
      i++;
      return next;
    };
    if (flag === "-V" || flag === "--version") options.version = true;
    else if (flag === "-h" || flag === "--help") options.help = true;
    else if (flag === "--api-socket") options.apiSocket = endpoint(flag, value());
    else if (flag === "--event-monitor") options.eventMonitor = endpoint(flag, value());
    else if (flag === "--log-file") options.logFile = value();
    else if (/^-v+$/.test(flag)) options.verbosity += flag.length - 1;
    else if (flag === "--no-shutdown") options.noShutdown = true;
    else if (flag.startsWith("--sim-")) options.sim[flag.slice(6)] = value();
    else if (IGNORED_WITH_VALUE.has(flag)) value();
    else if (IGNORED_BARE.has(flag)) {
      // Accepted for command-line compatibility; the simulator has nothing to sandbox.
    } else if (VM_FLAGS.has(flag))
      throw new UsageError(`${flag} is not supported by the simulator: create VMs over the API`);
    else throw new UsageError(`unexpected argument '${raw}' found`);
  }
  return options;
}
