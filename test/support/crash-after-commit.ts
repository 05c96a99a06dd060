import type { Deps } from "../../src/deps";

/**
 * The process dies right after its next commit: that batch is written, then it and every later
 * use of the database throw, as if nothing after the commit ever ran.
 */
export function crashAfterCommit(deps: Deps): Deps {
  let dead = false;
  const died = () => new Error("the process died");
  const db = new Proxy(deps.db, {
    get(target, prop, receiver) {
      if (dead) throw died();
      if (prop === "batch") {
        return async (statements: Parameters<typeof target.batch>[0]) => {
          await target.batch(statements);
          dead = true;
          throw died();
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...deps, db };
}
