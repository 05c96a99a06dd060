import type { WorkItemClaims } from "../../../src/protocol/work-item";
import { toVmOpError } from "./errors";
import { type VmOpName, validateVmOpParams } from "./params";
import type { Observed, VmOpHandler } from "./types";

/**
 * The same handlers in the shape of the runtime's `OpHandler` (agent/src/executor.ts:
 * `validate(params)` before journaling, `run(ctx)` → an outcome). Typed structurally, so this file
 * does not depend on the runtime's module: register each with `executor.register(op, 1, h)`.
 */
export type ExecutorOutcome =
  | { outcome: "succeeded"; output?: Record<string, unknown>; observed?: Record<string, unknown> }
  | {
      outcome: "failed";
      error: { code: string; message?: string; retryable: boolean };
      observed?: Record<string, unknown>;
    }
  /** Stopped at a safe point (or before it began); `observed` is the VM as it was left. */
  | { outcome: "cancelled"; observed?: Record<string, unknown> };

export type ExecutorHandler = {
  validate(params: Record<string, unknown>): boolean;
  run(ctx: {
    item: Pick<WorkItemClaims, "params" | "resource" | "idem">;
    signal: AbortSignal;
    progress?: (message: string, data?: Record<string, unknown>) => void;
  }): Promise<ExecutorOutcome>;
};

/** The protocol caps `error.message`; keep ours well inside it. */
const MAX_MESSAGE = 2000;

export function executorHandlers(
  handlers: Record<VmOpName, VmOpHandler>,
): Record<VmOpName, ExecutorHandler> {
  const out = {} as Record<VmOpName, ExecutorHandler>;
  for (const [op, handler] of Object.entries(handlers) as [VmOpName, VmOpHandler][]) {
    out[op] = {
      validate: (params) => validateVmOpParams(op, params),
      async run({ item, signal, progress }) {
        try {
          const result = await handler(item.params, {
            resourceId: item.resource.id,
            signal,
            idem: item.idem,
            ...(progress ? { progress } : {}),
          });
          return {
            outcome: "succeeded",
            observed: result.observed,
            ...(result.output ? { output: result.output } : {}),
          };
        } catch (error) {
          const failure = toVmOpError(error);
          const observed: Observed | undefined = failure.observed;
          if (failure.code === "cancelled")
            return { outcome: "cancelled", ...(observed ? { observed } : {}) };
          return {
            outcome: "failed",
            error: {
              code: failure.code,
              message: failure.message.slice(0, MAX_MESSAGE),
              retryable: failure.retryable,
            },
            ...(observed ? { observed } : {}),
          };
        }
      },
    };
  }
  return out;
}
