/**
 * Fault injection and simulator switches. Each has an environment variable `CH_SIM_<NAME>` and a
 * flag `--sim-<name>` (the flag wins). See docs/hypervisor.md.
 */
export type Faults = {
  /** Exit abruptly (no cleanup, socket left behind) on this request: a 1-based call number, or an
   * endpoint name optionally with the n-th call of it (`vm.boot`, `vm.boot:2`). */
  exitAt: { call: number } | { endpoint: string; nth: number } | undefined;
  exitCode: number;
  /** `vm.boot` takes this long; the single API thread is blocked meanwhile, as in CH. */
  bootDelayMs: number;
  /** `new`: Vm::new fails (nothing owned, retry works). `boot`: the VM object stays in Created and
   * a retried boot gets "already created". */
  bootFail: "new" | "boot" | undefined;
  /** The guest powers itself off this long after every boot. */
  poweroffAfterMs: number | undefined;
  /** The guest reboots itself this long after every boot (same process, R→R). */
  rebootAfterMs: number | undefined;
  /** The guest panics this long after every boot (`guest/panic` if `pvpanic` is on). */
  panicAfterMs: number | undefined;
  /** How long the guest takes to react to the ACPI power button. */
  powerButtonDelayMs: number;
  /** The guest ignores the power button (forces the driver's fallback). */
  ignorePowerButton: boolean;
  /** v53.0 behaviour: every error that is not a 404 becomes a 500. */
  v53: boolean;
  /** Initial value of every byte counter (to exercise values above 2^53). */
  counterStart: bigint;
  /** Append one JSON line per request here. */
  requestLog: string | undefined;
};

export class FaultConfigError extends Error {}

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new FaultConfigError(`${name} must be a non-negative integer`);
  return Number(raw);
}

function flag(raw: string | undefined): boolean {
  return raw !== undefined && raw !== "" && raw !== "0" && raw !== "false";
}

export function parseFaults(env: NodeJS.ProcessEnv, flags: Record<string, string>): Faults {
  const get = (name: string): string | undefined =>
    flags[name] ?? env[`CH_SIM_${name.toUpperCase().replaceAll("-", "_")}`];
  const exitRaw = get("exit-at");
  let exitAt: Faults["exitAt"];
  if (exitRaw && /^\d+$/.test(exitRaw)) exitAt = { call: Number(exitRaw) };
  else if (exitRaw) {
    const [endpoint = "", nth] = exitRaw.split(":");
    exitAt = { endpoint, nth: integer("exit-at", nth, 1) };
  }
  const bootFail = get("boot-fail");
  if (bootFail !== undefined && bootFail !== "" && bootFail !== "new" && bootFail !== "boot")
    throw new FaultConfigError("boot-fail must be 'new' or 'boot'");
  const optional = (name: string) => {
    const raw = get(name);
    return raw ? integer(name, raw, 0) : undefined;
  };
  const counterStart = get("counter-start") ?? "0";
  if (!/^\d+$/.test(counterStart)) throw new FaultConfigError("counter-start must be an integer");
  return {
    exitAt,
    exitCode: integer("exit-code", get("exit-code"), 1),
    bootDelayMs: integer("boot-delay-ms", get("boot-delay-ms"), 0),
    bootFail: bootFail === "new" || bootFail === "boot" ? bootFail : undefined,
    poweroffAfterMs: optional("poweroff-after-ms"),
    rebootAfterMs: optional("reboot-after-ms"),
    panicAfterMs: optional("panic-after-ms"),
    powerButtonDelayMs: integer("power-button-delay-ms", get("power-button-delay-ms"), 50),
    ignorePowerButton: flag(get("ignore-power-button")),
    v53: flag(get("v53")),
    counterStart: BigInt(counterStart) % 2n ** 64n,
    requestLog: get("log") || undefined,
  };
}

/** Counts requests and tells when the configured exit point is reached. */
export function exitTrigger(faults: Faults): (endpoint: string) => boolean {
  let calls = 0;
  const perEndpoint = new Map<string, number>();
  return (endpoint) => {
    calls++;
    const n = (perEndpoint.get(endpoint) ?? 0) + 1;
    perEndpoint.set(endpoint, n);
    const at = faults.exitAt;
    if (!at) return false;
    return "call" in at ? at.call === calls : at.endpoint === endpoint && at.nth === n;
  };
}
