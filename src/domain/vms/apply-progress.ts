import { and, eq, inArray } from "drizzle-orm";
import { type OperationStep, operations, vms } from "../../db/schema";
import type { Deps } from "../../deps";
import { VM_BOOTING_STEP } from "../../protocol/agent-api";
import type { Statement } from "../context";
import type { ResultItem } from "./apply-result";
import { IN_FLIGHT_STATES } from "./inventory";

/**
 * What an operation's progress lines change before its result: the VM's reason shows the latest
 * step (while the VM is between states), and a create whose resources are in place
 * (`VM_BOOTING_STEP`) has its `provisioned` step done. The live views pick both up.
 */
export async function vmProgressStatements(
  deps: Deps,
  item: ResultItem,
  messages: readonly string[],
): Promise<Statement[]> {
  const latest = messages.at(-1);
  if (latest === undefined) return [];
  const now = deps.clock.now();
  const statements: Statement[] = [
    deps.db
      .update(vms)
      .set({ stateReason: `${item.op}: ${latest}`.slice(0, 500), updatedAt: now })
      .where(and(eq(vms.id, item.resourceId), inArray(vms.observedState, [...IN_FLIGHT_STATES]))),
  ];
  if (item.op !== "vm.create" || !messages.includes(VM_BOOTING_STEP)) return statements;
  const [operation] = await deps.db
    .select({ id: operations.id, status: operations.status, steps: operations.steps })
    .from(operations)
    .where(eq(operations.id, item.idem))
    .limit(1);
  if (!operation || (operation.status !== "pending" && operation.status !== "running")) {
    return statements;
  }
  const steps: OperationStep[] = operation.steps.map((s) =>
    s.name === "provisioned" && s.status !== "done" ? { ...s, status: "done", at: now } : s,
  );
  statements.push(
    deps.db
      .update(operations)
      .set({ steps })
      .where(
        and(eq(operations.id, operation.id), inArray(operations.status, ["pending", "running"])),
      ),
  );
  return statements;
}
