import type { Deps } from "../../src/deps";

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
