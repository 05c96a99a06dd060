import { and, desc, eq, isNotNull } from "drizzle-orm";
import { vmTelemetrySamples } from "../../db/schema";
import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { loadVm, vmRef } from "./shared";
import { DISK_COUNTERS, NETWORK_COUNTERS, type RateSeries, rateSeries } from "./telemetry-rates";

/** Samples the charts are computed from (about an hour at the agent's 60 s status interval). */
export const RATE_SAMPLES = 60;

export type VmConsoleTail = { at: number; text: string };
export type VmActivity = { network: RateSeries; disk: RateSeries };
export type VmTelemetry = VmActivity & { console: VmConsoleTail | null };

/** The VM's network and disk throughput from its host's recent reports. */
async function activity(sc: ServiceContext, vmId: string): Promise<VmActivity> {
  const rows = await sc.deps.db
    .select({ at: vmTelemetrySamples.at, counters: vmTelemetrySamples.counters })
    .from(vmTelemetrySamples)
    .where(and(eq(vmTelemetrySamples.vmId, vmId), isNotNull(vmTelemetrySamples.counters)))
    .orderBy(desc(vmTelemetrySamples.at), desc(vmTelemetrySamples.id))
    .limit(RATE_SAMPLES);
  const samples = rows.reverse();
  return {
    network: rateSeries(samples, NETWORK_COUNTERS),
    disk: rateSeries(samples, DISK_COUNTERS),
  };
}

async function consoleTail(sc: ServiceContext, vmId: string): Promise<VmConsoleTail | null> {
  const [row] = await sc.deps.db
    .select({ at: vmTelemetrySamples.at, text: vmTelemetrySamples.consoleTail })
    .from(vmTelemetrySamples)
    .where(and(eq(vmTelemetrySamples.vmId, vmId), isNotNull(vmTelemetrySamples.consoleTail)))
    .orderBy(desc(vmTelemetrySamples.at), desc(vmTelemetrySamples.id))
    .limit(1);
  return row?.text != null ? { at: row.at, text: row.text } : null;
}

/**
 * The latest serial console tail and the activity charts. The console may show secrets the guest
 * prints (boot logs, passwords), so it needs `console`, not just `view`.
 */
export async function vmTelemetry(sc: ServiceContext, vmId: string): Promise<VmTelemetry> {
  await authorizeActor(sc, vmRef(vmId), "console");
  await loadVm(sc.deps, vmId);
  const [tail, rates] = await Promise.all([consoleTail(sc, vmId), activity(sc, vmId)]);
  return { console: tail, ...rates };
}

/** The activity charts alone, for whoever may view the VM. */
export async function vmActivity(sc: ServiceContext, vmId: string): Promise<VmActivity> {
  await authorizeActor(sc, vmRef(vmId), "view");
  await loadVm(sc.deps, vmId);
  return activity(sc, vmId);
}
