import { HranaError, ProtocolError } from "./errors";
import { type ExecContext, type PlannedStmt, planStmt, runStmt } from "./execute";
import type { BatchCond, BatchResult, ProtoBatch, ProtoError } from "./protocol";

type Outcome = "ok" | "error" | "skipped";

/** Rejects conditions that reference the current or a later step, like sqld does. */
function validateCond(cond: BatchCond, stepIndex: number, ctx: ExecContext): void {
  switch (cond.type) {
    case "ok":
    case "error":
      if (cond.step >= stepIndex) {
        throw new ProtocolError("Invalid reference to step in a batch condition");
      }
      return;
    case "not":
      validateCond(cond.cond, stepIndex, ctx);
      return;
    case "and":
    case "or":
      for (const inner of cond.conds) validateCond(inner, stepIndex, ctx);
      return;
    case "is_autocommit":
      if (ctx.version < 3) {
        throw new ProtocolError(
          "BatchCond of type `is_autocommit` is only supported in protocol version hrana3 and higher",
        );
      }
  }
}

/** Hrana semantics: `ok`/`error` are false for skipped steps. */
function evalCond(cond: BatchCond, outcomes: Outcome[], ctx: ExecContext): boolean {
  switch (cond.type) {
    case "ok":
      return outcomes[cond.step] === "ok";
    case "error":
      return outcomes[cond.step] === "error";
    case "not":
      return !evalCond(cond.cond, outcomes, ctx);
    case "and":
      return cond.conds.every((c) => evalCond(c, outcomes, ctx));
    case "or":
      return cond.conds.some((c) => evalCond(c, outcomes, ctx));
    case "is_autocommit":
      return ctx.conn.isAutocommit;
  }
}

/**
 * Runs a batch. Like sqld, the whole batch is validated first (SQL refs, conditions, syntax), so a
 * malformed step fails the request before any step runs; runtime errors only fail their step.
 */
export async function runBatch(ctx: ExecContext, batch: ProtoBatch): Promise<BatchResult> {
  const plans: PlannedStmt[] = batch.steps.map((step, i) => {
    if (step.condition) validateCond(step.condition, i, ctx);
    return planStmt(ctx, step.stmt);
  });
  const outcomes: Outcome[] = [];
  const result: BatchResult = { step_results: [], step_errors: [] };
  for (const [i, plan] of plans.entries()) {
    const condition = batch.steps[i]?.condition;
    if (condition && !evalCond(condition, outcomes, ctx)) {
      outcomes.push("skipped");
      result.step_results.push(null);
      result.step_errors.push(null);
      continue;
    }
    try {
      result.step_results.push(await runStmt(ctx, plan));
      result.step_errors.push(null);
      outcomes.push("ok");
    } catch (err) {
      if (!(err instanceof HranaError)) throw err;
      result.step_results.push(null);
      result.step_errors.push(protoError(err));
      outcomes.push("error");
    }
  }
  return result;
}

export const protoError = (err: HranaError): ProtoError => ({
  message: err.message,
  code: err.code,
});
