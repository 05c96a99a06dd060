import type { Deps } from "../../src/deps";
import { commit, type ServiceContext } from "../../src/domain/context";
import { createUserStatements } from "../../src/domain/identity/users";
import { busy } from "./poll";

/**
 * A new user written straight to the database of a control plane running in another process, and a
 * service context acting as them: real-process suites create their organization, project and API
 * token through the domain with it, then drive everything else over HTTP. `busy` retries while
 * the server holds the database lock.
 */
export async function operatorContext(deps: Deps, requestId: string): Promise<ServiceContext> {
  const userId = deps.ids.next("user");
  const now = Date.now();
  const system: ServiceContext = { deps, actor: { kind: "system" }, requestId };
  await busy(() =>
    commit(
      deps.db,
      createUserStatements(system, {
        id: userId,
        email: `ops-${userId}@example.test`,
        displayName: "Ops",
        isPlatformAdmin: false,
        createdAt: now,
        updatedAt: now,
      }),
    ),
  );
  return { deps, actor: { kind: "user", userId, sessionId: null }, requestId };
}
