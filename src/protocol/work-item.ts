import { z } from "zod";
import { ACCEPT_WINDOW_S } from "./limits";

const numericDate = z.number().int().nonnegative();
const id = z.string().min(1).max(200);

/** What the item acts on; `uid` is never reused, so generations are tracked per uid (design §2.4). */
export const resourceRefSchema = z
  .object({ kind: z.string().min(1).max(40), id, uid: id })
  .strict();
export type ResourceRef = z.infer<typeof resourceRefSchema>;

/**
 * Claims of a signed work item (design §2.4). `typ` and `kid` travel in the protected header, not
 * here. Unknown claims are refused so a signer bug cannot smuggle fields past the agent.
 */
export const workItemClaimsSchema = z
  .object({
    iss: z.string().min(1),
    /** Exactly one host id: an item can never be valid on two hosts. */
    aud: z.string().regex(/^host_[0-9a-z]+$/),
    /** The work item id (`wi_…`), bound to the claim response on the agent. */
    sub: z.string().regex(/^wi_[0-9a-z]+$/),
    /** Unique per issuance; a re-issue of the same item gets a new one. */
    jti: id,
    iat: numericDate,
    nbf: numericDate,
    exp: numericDate,
    v: z.literal(1),
    tenant: id.optional(),
    op: z.string().regex(/^[a-z]+(\.[a-z_]+)+$/),
    op_v: z.number().int().positive(),
    resource: resourceRefSchema,
    /** The resource generation this item brings the resource to. */
    gen: z.number().int().positive(),
    /** Unique per host, gives delivery order; claims return only `seq > cursor`. */
    seq: z.number().int().positive(),
    /** Items (by `sub`) that must be finished before this one may start. */
    after: z.array(z.string().regex(/^wi_[0-9a-z]+$/)).max(64),
    /** Stable across attempts and re-issues: keys the agent's execution journal. */
    idem: id,
    attempt: z.number().int().positive(),
    lease_epoch: z.number().int().nonnegative(),
    /** Deadline: the agent must not start the item after this time. */
    start_by: numericDate,
    timeout_s: z.number().int().positive().max(86_400),
    params: z.record(z.string(), z.unknown()),
  })
  .strict()
  .refine((c) => c.nbf >= c.iat && c.exp > c.nbf, { message: "iat <= nbf < exp" })
  .refine((c) => c.exp - c.iat <= ACCEPT_WINDOW_S, { message: "accept window too long" });
export type WorkItemClaims = z.infer<typeof workItemClaimsSchema>;
