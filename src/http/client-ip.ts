import type { Ctx } from "./env";

/**
 * The caller's address for rate limits and the session list. On Workers, Cloudflare sets
 * CF-Connecting-IP; on Node the entry point supplies the socket's address (a header could be
 * forged there, so none is trusted).
 */
export function clientIp(c: Ctx): string {
  const { deps } = c.var;
  if (deps.config.runtime === "workers") return c.req.header("cf-connecting-ip") ?? "unknown";
  return deps.clientAddress?.(c) ?? "unknown";
}
