import { commit } from "../../src/domain/context";
import { startSession } from "../../src/domain/identity/sessions";
import { createUserStatements, type UserRow } from "../../src/domain/identity/users";
import type { Harness } from "./harness";

/** A signed-in browser user of a harness: requests carry the session cookie, Origin and CSRF token. */
export type TestUser = {
  user: UserRow;
  cookie: string;
  csrfToken: string;
  /** A same-origin request as this user (JSON bodies: pass `json`). */
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
};

let counter = 0;

/**
 * Creates an account directly (no passkey ceremony: those have their own tests) and a session
 * for it, as sign-in would.
 */
export async function signedInUser(
  h: Harness,
  options: { email?: string; name?: string; platformAdmin?: boolean } = {},
): Promise<TestUser> {
  counter += 1;
  const now = h.clock.now();
  const user: UserRow = {
    id: h.deps.ids.next("user"),
    email: options.email ?? `user${counter}@example.test`,
    displayName: options.name ?? `User ${counter}`,
    isPlatformAdmin: options.platformAdmin ?? false,
    createdAt: now,
    updatedAt: now,
  };
  const sc = { deps: h.deps, actor: { kind: "system" as const }, requestId: "test" };
  await commit(h.deps.db, createUserStatements(sc, user));
  const { token, session } = await startSession(h.deps, user.id, {
    userAgent: "test",
    ip: "127.0.0.1",
  });
  const cookie = `strato_session=${token}`;
  return {
    user,
    cookie,
    csrfToken: session.csrfToken,
    request(path, init = {}) {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set("cookie", cookie);
      headers.set("origin", h.deps.config.webauthn.origin);
      headers.set("x-csrf-token", session.csrfToken);
      if (json !== undefined) headers.set("content-type", "application/json");
      return h.request(path, {
        ...rest,
        headers,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
    },
  };
}

/** A request with an API token. */
export function withToken(
  h: Harness,
  secret: string,
  path: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<Response> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("authorization", `Bearer ${secret}`);
  if (json !== undefined) headers.set("content-type", "application/json");
  return h.request(path, {
    ...rest,
    headers,
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
}
