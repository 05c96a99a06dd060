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
