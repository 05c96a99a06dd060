import type { Deps } from "../../src/deps";
import { ServiceError } from "../../src/domain/errors";
import { ProblemError } from "../../src/http/problem";

/**
 * Two requests on one row, the second writing between the first's read and its write: the
 * first's batch is held (its reads run at once) until the second is done. The first must then
 * change nothing and answer from what the second left.
 */
export function heldWrites(deps: Deps): { deps: Deps; release: () => void } {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const db = new Proxy(deps.db, {
    get(target, prop, receiver) {
      if (prop === "batch") {
        return async (statements: Parameters<typeof target.batch>[0]) => {
          await gate;
          return target.batch(statements);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { deps: { ...deps, db }, release };
}

/**
 * How the request in `promise` was refused: the problem code of a ProblemError, the reason (else
 * the code) of a ServiceError, or "none" if it succeeded. Anything else is rethrown.
 */
export async function refusalCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProblemError) return err.problem.code;
    if (err instanceof ServiceError) return err.reason ?? err.code;
    throw err;
  }
  return "none";
}

/**
 * The race `heldWrites` sets up: `first` runs on held writes (its reads go at once), `second`
 * runs to its end, then `first` may write. Returns the first's outcome still pending (for
 * `refusalCode`, or to await) and the second's.
 */
export async function secondWritesFirst<T, U>(
  deps: Deps,
  first: (held: Deps) => Promise<T>,
  second: () => Promise<U>,
): Promise<{ first: Promise<T>; second: U }> {
  const slow = heldWrites(deps);
  const pending = first(slow.deps);
  // Awaited by the caller later: a refusal meanwhile is not an unhandled rejection.
  pending.catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 50));
  try {
    return { first: pending, second: await second() };
  } finally {
    slow.release();
  }
}
