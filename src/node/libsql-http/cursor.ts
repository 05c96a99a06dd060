import { protoError, runBatch } from "./batch";
import { HranaError } from "./errors";
import { execContext, type HranaContext } from "./pipeline";
import type { BatchResult, CursorReqBody } from "./protocol";

/** One NDJSON line of a `/v3/cursor` response. */
export type CursorLine = Record<string, unknown>;

function cursorEntries(result: BatchResult): CursorLine[] {
  const entries: CursorLine[] = [];
  for (const [step, stmt] of result.step_results.entries()) {
    const error = result.step_errors[step];
    if (error) {
      entries.push({ type: "step_error", step, error });
    } else if (stmt) {
      entries.push({ type: "step_begin", step, cols: stmt.cols });
      for (const row of stmt.rows) entries.push({ type: "row", row });
      entries.push({
        type: "step_end",
        affected_row_count: stmt.affected_row_count,
        last_insert_rowid: stmt.last_insert_rowid,
      });
    }
  }
  return entries;
}

/**
 * POST /v3/cursor: runs the batch and returns its entries as NDJSON lines, after a first line with
 * the baton. The batch is fully executed before the reply (fine for a local dev server).
 */
export async function handleCursor(
  h: HranaContext,
  body: CursorReqBody,
): Promise<{ lines: CursorLine[]; streamId: string }> {
  const stream = h.registry.acquire(body.baton);
  let entries: CursorLine[];
  try {
    try {
      entries = cursorEntries(await runBatch(execContext(h, stream, 3), body.batch));
    } catch (err) {
      if (!(err instanceof HranaError)) throw err;
      entries = [{ type: "error", error: protoError(err) }];
    }
  } catch (err) {
    h.registry.discard(stream);
    throw err;
  }
  const baton = h.registry.release(stream);
  return { lines: [{ baton, base_url: null }, ...entries], streamId: stream.id };
}
