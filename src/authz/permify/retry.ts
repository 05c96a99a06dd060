import type { AuthzError } from "../authorizer";

/** One failed attempt: the error the caller will see, and whether another attempt may help. */
export class AttemptFailure extends Error {
  constructor(
    readonly failure: AuthzError,
    readonly retryable: boolean,
  ) {
    super(failure.message);
  }
}

/** Runs attempts with `withRetries`, then surfaces the last failure's `AuthzError`. */
export async function retrying<T>(attempt: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  try {
    return await withRetries(attempt, (e) => e instanceof AttemptFailure && e.retryable, policy);
  } catch (error) {
    throw error instanceof AttemptFailure ? error.failure : error;
  }
}

/** How a remote adapter retries: a bounded number of extra attempts with jittered backoff. */
export type RetryPolicy = {
  retries: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  baseDelayMs: number;
};

const MAX_DELAY_MS = 2_000;

/** The adapters' policy: two extra attempts from 50 ms unless the caller (a test) says otherwise. */
export function retryPolicy(options: Partial<Omit<RetryPolicy, "baseDelayMs">>): RetryPolicy {
  return {
    retries: options.retries ?? 2,
    sleep: options.sleep ?? defaultSleep,
    random: options.random ?? Math.random,
    baseDelayMs: 50,
  };
}

export function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `attempt` until it succeeds, `retryable` says no, or retries run out. Jitter (50–100% of
 * the exponential step) keeps many clients from retrying in lockstep after an outage.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  policy: RetryPolicy,
): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= policy.retries || !retryable(error)) throw error;
      const step = Math.min(MAX_DELAY_MS, policy.baseDelayMs * 2 ** i);
      await policy.sleep(step * (0.5 + policy.random() / 2));
    }
  }
}
