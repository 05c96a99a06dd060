import { REJECTIONS, type RejectionReason } from "../../src/protocol/rejections";

export { REJECTIONS, type RejectionReason };

export type Rejection = { ok: false; reason: RejectionReason; retry: boolean; security: boolean };

export function reject(reason: RejectionReason): Rejection {
  return { ok: false, reason, ...REJECTIONS[reason] };
}
