import { eq, sql } from "drizzle-orm";
import type { Tuple } from "../../authz/authorizer";
import { users } from "../../db/schema";
import type { Deps } from "../../deps";
import type { ServiceContext, Statement } from "../context";
import { writeTuples } from "../relationships";

export type UserRow = typeof users.$inferSelect;

/** The one platform entity of the authorization model. */
export const PLATFORM = { type: "platform", id: "strato" } as const;

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function findUserByEmail(deps: Deps, email: string): Promise<UserRow | undefined> {
  const [row] = await deps.db
    .select()
    .from(users)
    .where(eq(users.email, normaliseEmail(email)))
    .limit(1);
  return row;
}

export async function findUser(deps: Deps, id: string): Promise<UserRow | undefined> {
  const [row] = await deps.db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

export async function countUsers(deps: Pick<Deps, "db">): Promise<number> {
  const [row] = await deps.db.select({ n: sql<number>`count(*)` }).from(users);
  return Number(row?.n ?? 0);
}

/**
 * Statements that create an account: the user row and its platform relationships (every account
 * is a platform member; the first one is also its admin).
 */
export function createUserStatements(sc: ServiceContext, user: UserRow): Statement[] {
  const tuples: Tuple[] = [
    { entity: PLATFORM, relation: "member", subject: { type: "user", id: user.id } },
  ];
  if (user.isPlatformAdmin) {
    tuples.push({ entity: PLATFORM, relation: "admin", subject: { type: "user", id: user.id } });
  }
  return [sc.deps.db.insert(users).values(user), ...writeTuples(sc, tuples)];
}
