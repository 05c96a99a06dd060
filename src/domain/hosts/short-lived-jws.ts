import { ProblemError } from "../../http/problem";
import { ASSERTION_MAX_LIFETIME_S, ASSERTION_SKEW_S } from "../../protocol/agent-api";

/**
 * The time rules every short-lived JWS an agent signs must meet (token assertions, the proof of
 * possession at enrollment and at key rotation): issued within ±60 s of the server's clock
 * (else `clock_skew`, with `server_time_ms` for the agent to re-sync) and valid for at most 60 s
 * (else `tooLong`, the caller's own refusal).
 */
export function checkShortLived(
  payload: Record<string, unknown>,
  now: number,
  what: string,
  tooLong: (detail: string) => Error,
): void {
  const iat = Number(payload.iat);
  if (Math.abs(iat * 1000 - now) > ASSERTION_SKEW_S * 1000) {
    throw new ProblemError({
      code: "clock_skew",
      detail: `The ${what}'s iat is too far from the server's time; see server_time_ms.`,
      extensions: { server_time_ms: now },
    });
  }
  if (Number(payload.exp) - iat > ASSERTION_MAX_LIFETIME_S) {
    throw tooLong(`The ${what} lives longer than ${ASSERTION_MAX_LIFETIME_S} s.`);
  }
}
