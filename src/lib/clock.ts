/** The time seam: everything below the entry points asks `deps.clock` instead of `Date.now()`. */
export interface Clock {
  /** Current time as UTC milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
