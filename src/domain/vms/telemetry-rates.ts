/**
 * Rates from cumulative counters. Counters are u64 and arrive as decimal strings, so deltas are
 * taken with BigInt; a counter that went down means the VM was rebuilt (boot, reboot), which
 * starts a new segment instead of a negative rate.
 */

export type CounterSample = { at: number; counters: Record<string, string> | null };
export type RatePoint = { at: number; perSecond: number };
export type RateSeries = {
  /** Runs of points without a counter reset in between, oldest first. */
  segments: RatePoint[][];
  latest: RatePoint | null;
};

/** The counters summed into each chart. */
export const NETWORK_COUNTERS = ["rx_bytes", "tx_bytes"] as const;
export const DISK_COUNTERS = ["read_bytes", "write_bytes"] as const;

function value(sample: CounterSample, name: string): bigint | undefined {
  const raw = sample.counters?.[name];
  if (raw === undefined || !/^\d{1,20}$/.test(raw)) return undefined;
  return BigInt(raw);
}

/** The per-second rate of the counters' sum between two samples, or null if it cannot be told. */
function rate(prev: CounterSample, cur: CounterSample, names: readonly string[]): number | null {
  const seconds = (cur.at - prev.at) / 1000;
  if (seconds <= 0) return null;
  let delta = 0n;
  let seen = false;
  for (const name of names) {
    const before = value(prev, name);
    const after = value(cur, name);
    if (before === undefined || after === undefined) continue;
    if (after < before) return null;
    delta += after - before;
    seen = true;
  }
  return seen ? Number(delta) / seconds : null;
}

/** The rate series of `names` over samples given oldest first. */
export function rateSeries(
  samples: readonly CounterSample[],
  names: readonly string[],
): RateSeries {
  const segments: RatePoint[][] = [];
  let current: RatePoint[] = [];
  for (let i = 1; i < samples.length; i++) {
    const prev = samples[i - 1];
    const cur = samples[i];
    if (!prev || !cur) continue;
    const perSecond = rate(prev, cur, names);
    if (perSecond === null) {
      if (current.length > 0) segments.push(current);
      current = [];
      continue;
    }
    current.push({ at: cur.at, perSecond });
  }
  if (current.length > 0) segments.push(current);
  const last = segments[segments.length - 1];
  return { segments, latest: last?.[last.length - 1] ?? null };
}
