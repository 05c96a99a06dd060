import { z } from "zod";
import { publicJwkSchema } from "./trust";

/**
 * Request and response bodies of the agent endpoints (`/api/v1/agent/*`), shared by the control
 * plane's routes and the agent's client so both sides parse the same shapes.
 */

/** `typ` of the agent's proof of possession at enrollment and of its token assertions. */
export const ENROLL_PROOF_TYP = "strato-enroll+jwt";
export const AGENT_ASSERTION_TYP = "strato-agent+jwt";
/** `typ` of the new key's proof when an agent rotates its key (`POST /keys`). */
export const KEY_ROTATION_PROOF_TYP = "strato-agent-key+jwt";
/** Assertions are accepted within this many seconds of the server's clock (design §2.10). */
export const ASSERTION_SKEW_S = 60;
/** Longest lifetime of an assertion (design §2.2: exp ≤ 60 s). */
export const ASSERTION_MAX_LIFETIME_S = 60;
/** Longest long poll (design §2.13). */
export const MAX_WAIT_S = 25;

/** The `aud` of token assertions: the issuer the agent pinned at enrollment, plus this suffix. */
export function assertionAudience(issuer: string): string {
  return `${issuer}/agent/token`;
}

const text = (max: number) => z.string().min(1).max(max);

export const hostFactsSchema = z
  .object({
    hostname: text(253),
    machine_id: z.string().regex(/^[A-Za-z0-9-]{8,64}$/),
    cpus: z.number().int().positive().max(100_000),
    memory_bytes: z.number().int().nonnegative(),
    disk_bytes: z.number().int().nonnegative(),
    kernel: text(200),
    kvm: z.boolean(),
    agent_version: text(64),
    ch_version: text(64).optional(),
    arch: text(32).optional(),
  })
  .strict();
export type HostFacts = z.infer<typeof hostFactsSchema>;

export const enrollRequestSchema = z
  .object({
    /** The enrollment token secret. */
    token: text(200),
    public_jwk: publicJwkSchema,
    facts: hostFactsSchema,
    /** JWS (`typ` strato-enroll+jwt) by the new key over `{tok, jkt, iat, exp, jti}`. */
    proof: text(4096),
    /**
     * The RFC 7638 thumbprint of the trust root the agent was configured to expect: a control
     * plane with another root refuses the enrollment before it uses the token or records a host.
     */
    trust_root_kid: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/)
      .optional(),
  })
  .strict();
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

export const keyRotationRequestSchema = z
  .object({
    /** The agent's new public key. */
    public_jwk: publicJwkSchema,
    /**
     * JWS (`typ` strato-agent-key+jwt) by the new key over `{sub = host id, jkt = its thumbprint,
     * prev = the current key's thumbprint, iat, exp, jti}`; the request itself is authenticated
     * with an access token obtained with the current key.
     */
    proof: text(4096),
  })
  .strict();
export type KeyRotationRequest = z.infer<typeof keyRotationRequestSchema>;
export const keyRotationResponseSchema = z.object({
  host_id: z.string(),
  key_thumbprint: z.string(),
  /** Until when (UTC ms) the previous key still signs token assertions. */
  previous_key_not_after: z.number().int().nullable(),
});
export type KeyRotationResponse = z.infer<typeof keyRotationResponseSchema>;

export const enrollResponseSchema = z.object({
  host_id: z.string(),
  status: z.literal("pending"),
  issuer: z.string(),
  replaces_host_id: z.string().nullable(),
  /** The trust root's public key: the agent pins it and accepts only trust bundles it signed. */
  trust_root: publicJwkSchema,
  server_time_ms: z.number().int(),
});
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

export const tokenRequestSchema = z
  .object({
    grant_type: z.literal("urn:ietf:params:oauth:grant-type:jwt-bearer"),
    assertion: text(4096),
  })
  .strict();

export const tokenResponseSchema = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
  host_id: z.string(),
  host_status: z.enum(["pending", "approved"]),
  server_time_ms: z.number().int(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

export const intervalsSchema = z.object({
  heartbeat_s: z.number().int(),
  status_s: z.number().int(),
  claim_s: z.number().int(),
  lease_s: z.number().int(),
  renew_s: z.number().int(),
});

export const enrollmentStatusSchema = z.object({
  status: z.literal("approved"),
  host_id: z.string(),
  /** The trust bundle: a compact JWS by the trust root (`typ` strato-trust+jwt). */
  trust: z.string(),
  intervals: intervalsSchema,
  server_time_ms: z.number().int(),
});
export type EnrollmentStatus = z.infer<typeof enrollmentStatusSchema>;

/** `GET /trust`: the current trust bundle, as in the enrollment answer. */
export const trustResponseSchema = z.object({ trust: z.string() });

export const claimRequestSchema = z
  .object({
    cursor: z.number().int().nonnegative(),
    max_items: z.number().int().positive().max(100).default(10),
  })
  .strict();

export const claimedItemSchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  lease_epoch: z.number().int(),
  token: z.string(),
});
export const claimResponseSchema = z.object({
  items: z.array(claimedItemSchema),
  cursor: z.number().int(),
  trust_version: z.number().int(),
  lease_expires_at: z.number().int().nullable(),
  server_time_ms: z.number().int(),
});
export type ClaimResponse = z.infer<typeof claimResponseSchema>;

export const ackRequestSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("accepted"), lease_epoch: z.number().int().nonnegative() }).strict(),
  z
    .object({
      status: z.literal("rejected"),
      lease_epoch: z.number().int().nonnegative(),
      reason: z.string().min(1).max(64),
    })
    .strict(),
]);
export type AckRequest = z.infer<typeof ackRequestSchema>;

export const ackResponseSchema = z.object({
  state: z.string(),
  lease_expires_at: z.number().int().nullable(),
});

/** The renew `step` of an item the agent holds (design §2.7 `after`): not started yet. */
export const HELD_STEP = "blocked";
export const renewRequestSchema = z
  .object({ lease_epoch: z.number().int().nonnegative(), step: text(200).optional() })
  .strict();
export const renewResponseSchema = z.object({
  lease_expires_at: z.number().int(),
  cancel: z.boolean(),
});

/**
 * The progress line a VM op reports once the VM's resources (image, disk, seed, network) are in
 * place and it boots: a create's `provisioned` step is done.
 */
export const VM_BOOTING_STEP = "booting";

/** Progress lines per `events` request, and the length of one line. */
export const MAX_EVENTS_PER_BATCH = 500;
export const MAX_EVENT_MESSAGE = 4000;
export const eventsRequestSchema = z
  .object({
    lease_epoch: z.number().int().nonnegative(),
    events: z
      .array(
        z
          .object({
            kind: z.enum(["progress", "log"]),
            at: z.number().int().nonnegative(),
            message: z.string().max(MAX_EVENT_MESSAGE),
            data: z.record(z.string(), z.unknown()).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_EVENTS_PER_BATCH),
  })
  .strict();

export const RESULT_OUTCOMES = [
  "succeeded",
  "failed",
  "cancelled",
  "superseded",
  "expired",
] as const;
export const resultRequestSchema = z
  .object({
    lease_epoch: z.number().int().nonnegative(),
    attempt: z.number().int().positive(),
    outcome: z.enum(RESULT_OUTCOMES),
    observed: z.record(z.string(), z.unknown()).optional(),
    output: z.record(z.string(), z.unknown()).optional(),
    error: z
      .object({ code: text(64), message: z.string().max(4000).optional(), retryable: z.boolean() })
      .strict()
      .optional(),
  })
  .strict();
export type ResultRequest = z.infer<typeof resultRequestSchema>;
export const resultResponseSchema = z.object({
  id: z.string(),
  state: z.string(),
  late: z.boolean(),
});

export const heartbeatRequestSchema = z
  .object({ boot_id: text(64).optional(), clock_offset_ms: z.number().int().optional() })
  .strict();
/** How many held items a status report lists at most. */
export const MAX_REPORTED_BLOCKED = 1_000;
export const statusRequestSchema = z
  .object({
    health: z.enum(["healthy", "warning", "critical"]),
    problems: z.array(z.string().max(200)).max(50).default([]),
    clock_offset_ms: z.number().int(),
    capacity: z.record(z.string(), z.number()).optional(),
    usage: z.record(z.string(), z.number()).optional(),
    inventory: z.array(z.record(z.string(), z.unknown())).max(10_000).default([]),
    versions: z.record(z.string(), z.string()).optional(),
    journal_backlog: z.number().int().nonnegative().default(0),
    /** Items held until the items in their `after` list finish (design §2.7). */
    blocked: z
      .array(
        z
          .object({ item_id: z.string().max(64), after: z.array(z.string().max(64)).max(64) })
          .strict(),
      )
      .max(MAX_REPORTED_BLOCKED)
      .default([]),
  })
  .strict();
export const livenessResponseSchema = z.object({
  server_time_ms: z.number().int(),
  trust_version: z.number().int(),
});

/** A long poll's answer: work exists (claim), or an item this host holds was cancelled (renew it). */
const waitRingSchema = z.object({ ring: z.literal(true), latest_seq: z.number().int() });
const waitCancelSchema = z.object({ cancel: z.literal(true), item_id: z.string().max(64) });
export const waitResponseSchema = z.union([waitRingSchema, waitCancelSchema]);
