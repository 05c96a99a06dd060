import type { Deps } from "../../src/deps";
import { commit } from "../../src/domain/context";
import { startSession } from "../../src/domain/identity/sessions";
import { createUserStatements } from "../../src/domain/identity/users";
import { busy } from "./poll";

/**
 * A person signed in to a running control plane (a server process sharing `deps.db`), created
 * directly in its database (sign-in ceremonies have their own tests): the headers of their browser.
 */
export async function consoleSession(deps: Deps, origin: string) {
  const userId = deps.ids.next("user");
  const now = Date.now();
  const system = { deps, actor: { kind: "system" as const }, requestId: "test" };
  await busy(() =>
    commit(
      deps.db,
      createUserStatements(system, {
        id: userId,
        email: `${userId}@example.test`,
        displayName: "Liv",
        isPlatformAdmin: false,
        createdAt: now,
        updatedAt: now,
      }),
    ),
  );
  const { token, session } = await busy(() =>
    startSession(deps, userId, { userAgent: "test", ip: "127.0.0.1" }),
  );
  return { cookie: `strato_session=${token}`, origin, "x-csrf-token": session.csrfToken };
}
