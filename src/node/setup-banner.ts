/** What a fresh installation prints so its operator can create the first (admin) account. */
export function setupBanner(origin: string, code: string): string {
  return [
    "",
    "  This installation has no account yet. Open",
    `    ${origin}/setup`,
    "  and enter the one-time set-up code",
    `    ${code}`,
    "  to create the platform admin account (a new code is printed at every start until then).",
    "",
  ].join("\n");
}
