/**
 * The telemetry an agent's status report carries per running VM (agent/src/vm-telemetry.ts): the
 * serial console's tail and I/O counter totals. Each field is checked on its own, and a bad one is
 * dropped, never failing the report it came in.
 */
import { and, eq, lt } from "drizzle-orm";
import { z } from "zod";
import { vmTelemetrySamples } from "../../db/schema";
import type { Deps } from "../../deps";
import { cleanConsoleText } from "../../protocol/console-text";
import type { Statement } from "../context";

export const CONSOLE_TAIL_MAX_CHARS = 8192;
/** Samples older than this go: the page charts the last hour at most. */
export const TELEMETRY_RETENTION_MS = 60 * 60_000;

const ConsoleTail = z.string().max(CONSOLE_TAIL_MAX_CHARS);
const Counters = z
  .record(z.string().regex(/^[a-z0-9_]{1,64}$/), z.string().regex(/^\d{1,20}$/))
  .refine((c) => Object.keys(c).length <= 64, "at most 64 counters");

export type ReportedTelemetry = {
  consoleTail?: string | undefined;
  counters?: Record<string, string> | undefined;
};

/** The telemetry fields of one inventory entry that pass validation, or undefined if none. */
export function reportedTelemetry(entry: Record<string, unknown>): ReportedTelemetry | undefined {
  const tail = ConsoleTail.safeParse(entry.console_tail);
  const counters = Counters.safeParse(entry.counters);
  if (!tail.success && !counters.success) return undefined;
  return {
    ...(tail.success ? { consoleTail: cleanConsoleText(tail.data) } : {}),
    ...(counters.success ? { counters: counters.data } : {}),
  };
}

/** One sample for the VM, and the removal of its samples past retention. */
export function telemetryStatements(
  deps: Deps,
  vmId: string,
  telemetry: ReportedTelemetry,
  now: number,
): Statement[] {
  return [
    deps.db.insert(vmTelemetrySamples).values({
      vmId,
      at: now,
      consoleTail: telemetry.consoleTail ?? null,
      counters: telemetry.counters ?? null,
    }),
    deps.db
      .delete(vmTelemetrySamples)
      .where(
        and(
          eq(vmTelemetrySamples.vmId, vmId),
          lt(vmTelemetrySamples.at, now - TELEMETRY_RETENTION_MS),
        ),
      ),
  ];
}

/** The report without telemetry, for the host's stored status (kept in its own table instead). */
export function withoutTelemetry(entry: Record<string, unknown>): Record<string, unknown> {
  const { console_tail: _tail, counters: _counters, ...rest } = entry;
  return rest;
}
