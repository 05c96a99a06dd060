/**
 * What the status report carries about each running or paused VM besides its state: the tail of
 * its serial console and its I/O counter totals. The control plane never connects to hosts, so
 * this is how the VM detail page gets them (src/domain/vms/telemetry-report.ts reads it).
 */
import { cleanConsoleText } from "../../src/protocol/console-text";
import type { DeviceCounters, Hypervisor } from "./hypervisor/hypervisor";
import type { AgentLog } from "./log";
import type { ConsoleLogs, InventoryEntry } from "./ops";

/** Console bytes sent per VM (the control plane refuses more than 8192 characters). */
export const CONSOLE_TAIL_BYTES = 8 * 1024;
/** Console bytes sent per report, so many VMs keep it well under the API's 1 MiB body limit. */
export const CONSOLE_BUDGET_BYTES = 512 * 1024;

/** Cumulative totals only: summing per-device latencies or gauges over devices means nothing. */
const TOTAL_COUNTER = /^[a-z0-9_]{1,64}_(bytes|frames|ops)$/;

export type VmTelemetry = { console_tail?: string; counters?: Record<string, string> };

export type TelemetrySources = {
  hypervisor: Pick<Hypervisor, "counters">;
  consoleLogs: ConsoleLogs;
  log: AgentLog;
};

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Console bytes as text: lenient UTF-8, without escapes or control characters but \n and \t. */
export function consoleText(data: Uint8Array, cutAtStart: boolean): string {
  let start = 0;
  // A tail cut mid-character starts with continuation bytes; drop them rather than show U+FFFD.
  while (cutAtStart && start < 3 && start < data.length && ((data[start] ?? 0) & 0xc0) === 0x80) {
    start++;
  }
  return cleanConsoleText(decoder.decode(data.subarray(start)));
}

/** Per-device counters summed per name, as decimal strings (u64 values exceed 2^53). */
export function counterTotals(counters: DeviceCounters): Record<string, string> {
  const totals = new Map<string, bigint>();
  for (const device of Object.values(counters)) {
    for (const [name, value] of Object.entries(device)) {
      if (TOTAL_COUNTER.test(name)) totals.set(name, (totals.get(name) ?? 0n) + value);
    }
  }
  return Object.fromEntries(
    [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.toString()]),
  );
}

/**
 * Reads a VM's telemetry. A failure leaves the field out (the report must go out regardless) and
 * is logged once per VM and kind until it succeeds again, not at every report.
 */
export class TelemetryReader {
  readonly #sources: TelemetrySources;
  readonly #failing = new Set<string>();

  constructor(sources: TelemetrySources) {
    this.#sources = sources;
  }

  async read(vmId: string, consoleBytes = CONSOLE_TAIL_BYTES): Promise<VmTelemetry> {
    const [tail, counters] = await Promise.all([
      consoleBytes > 0
        ? this.#attempt(vmId, "console", async () => {
            const log = this.#sources.consoleLogs(vmId);
            // Each status report keeps the live log within its cap (console_log_mb).
            await log.maybeRotate();
            const { data, truncated } = await log.tail(consoleBytes);
            return consoleText(data, truncated);
          })
        : undefined,
      this.#attempt(vmId, "counters", async () =>
        counterTotals(await this.#sources.hypervisor.counters(vmId)),
      ),
    ]);
    return {
      ...(tail !== undefined ? { console_tail: tail } : {}),
      ...(counters !== undefined ? { counters } : {}),
    };
  }

  async #attempt<T>(vmId: string, kind: string, fn: () => Promise<T>): Promise<T | undefined> {
    const key = `${kind}:${vmId}`;
    try {
      const value = await fn();
      this.#failing.delete(key);
      return value;
    } catch (error) {
      if (!this.#failing.has(key)) {
        this.#failing.add(key);
        this.#sources.log.warn(`status report: cannot read the VM's ${kind}`, {
          vmId,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return undefined;
    }
  }
}

/** The inventory entries with telemetry added to running and paused VMs. */
export async function withTelemetry(
  entries: readonly InventoryEntry[],
  reader: TelemetryReader,
  toReport: (entry: InventoryEntry) => Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  let budget = CONSOLE_BUDGET_BYTES;
  const report: Record<string, unknown>[] = [];
  for (const entry of entries) {
    const base = toReport(entry);
    if (entry.state !== "running" && entry.state !== "paused") {
      report.push(base);
      continue;
    }
    const bytes = Math.min(CONSOLE_TAIL_BYTES, budget);
    const telemetry = await reader.read(entry.vmId, bytes);
    budget -= Buffer.byteLength(telemetry.console_tail ?? "");
    report.push({ ...base, ...telemetry });
  }
  return report;
}
