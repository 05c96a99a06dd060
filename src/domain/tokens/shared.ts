import type { apiTokens } from "../../db/schema";

export type ApiTokenRow = typeof apiTokens.$inferSelect;

/** What lists show of a token: never its hash. */
export type ApiTokenView = Omit<ApiTokenRow, "tokenHash">;

export function tokenView(row: ApiTokenRow): ApiTokenView {
  const { tokenHash: _hash, ...view } = row;
  return view;
}
