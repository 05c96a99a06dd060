import { open } from "node:fs/promises";
import type { HypervisorEvent, StopReason } from "../hypervisor";
import type { ExitInfo } from "./process";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toEvent(text: string): HypervisorEvent | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (!isRecord(value) || typeof value.source !== "string" || typeof value.event !== "string")
      return undefined;
    const ts = isRecord(value.timestamp) ? value.timestamp : {};
    const secs = (Number(ts.secs) || 0) + (Number(ts.nanos) || 0) / 1e9;
    const props = isRecord(value.properties) ? value.properties : null;
    const properties = props
      ? Object.fromEntries(Object.entries(props).map(([k, v]) => [k, String(v)]))
      : null;
    return { source: value.source, event: value.event, properties, secs };
  } catch {
    return undefined;
  }
}

/**
 * Reads CH's event file from `offset`: pretty-printed JSON objects separated by a blank line, as
 * upstream's `parse_event_file` splits them. Returns the events and the offset after the last
 * complete one (a half-written event is read again next time). A file shorter than `offset` was
 * truncated by a new VMM, so reading restarts at 0.
 */
export async function readEvents(
  path: string,
  offset: number,
): Promise<{ events: HypervisorEvent[]; offset: number }> {
  let data: Buffer;
  try {
    const handle = await open(path, "r");
    try {
      const size = (await handle.stat()).size;
      if (size < offset) offset = 0;
      data = Buffer.alloc(size - offset);
      await handle.read(data, 0, data.length, offset);
    } finally {
      await handle.close();
    }
  } catch {
    return { events: [], offset };
  }
  const events: HypervisorEvent[] = [];
  let consumed = 0;
  for (;;) {
    const end = data.indexOf("\n\n", consumed);
    if (end < 0) break;
    const event = toEvent(data.subarray(consumed, end).toString("utf8"));
    if (event) events.push(event);
    consumed = end + 2;
  }
  return { events, offset: offset + consumed };
}

const name = (e: HypervisorEvent) => `${e.source}/${e.event}`;

/** Why a VMM process is gone, from its event log and (when we were its parent) its exit status. */
export function stopReason(events: HypervisorEvent[], exit: ExitInfo | undefined): StopReason {
  // Device activations and resets are noise here; the VM's life cycle tells what happened.
  const last = events
    .filter((e) => e.source === "vm" || e.source === "vmm" || e.source === "guest")
    .at(-1);
  const lastEvent = last ? name(last) : undefined;
  const base = {
    ...(lastEvent ? { lastEvent } : {}),
    ...(exit?.signal ? { signal: exit.signal } : {}),
    ...(exit && exit.code !== null ? { exitCode: exit.code } : {}),
  };
  const panic = events.find((e) => name(e) === "guest/panic");
  if (lastEvent === "vmm/shutdown") {
    // The clean exit sequence is (vm/shutdown), vm/deleted, vmm/shutdown.
    const lifecycle = events.filter((e) => e.source === "vm" || e.source === "vmm");
    const guestWasUp = lifecycle.slice(-3).some((e) => name(e) === "vm/shutdown");
    return guestWasUp
      ? {
          kind: "guest-shutdown",
          detail: "the guest shut down and the VMM exited cleanly",
          ...base,
        }
      : { kind: "vmm-exit", detail: "the VMM exited cleanly", ...base };
  }
  const how = exit?.signal
    ? `killed by ${exit.signal}`
    : exit && exit.code !== null
      ? `exited with code ${exit.code}`
      : "died";
  const after = lastEvent ? ` after ${lastEvent}` : "";
  const guest = panic ? " (the guest reported a panic)" : "";
  return {
    kind: "crashed",
    detail: `the VMM process ${how} unexpectedly${after}${guest}`,
    ...base,
  };
}
