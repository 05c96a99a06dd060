import { and, desc, eq, inArray } from "drizzle-orm";
import { type OperationStep, operations } from "../../db/schema";
import type { Deps } from "../../deps";
import { sha256Hex } from "../../lib/secrets";
import { type Actor, actorId, type ServiceContext, type Statement } from "../context";
import { ServiceError } from "../errors";
import type { VmRow } from "./shared";

export type OperationRow = typeof operations.$inferSelect;

export const VM_OPERATION_KINDS = [
  "vm.create",
  "vm.start",
  "vm.stop",
  "vm.restart",
  "vm.pause",
  "vm.resume",
  "vm.resize",
  "vm.delete",
] as const;
export type VmOperationKind = (typeof VM_OPERATION_KINDS)[number];

/** The steps an operation of each kind goes through, shown as its progress. */
const STEPS: Record<VmOperationKind, string[]> = {
  "vm.create": ["scheduled", "queued", "provisioned", "running"],
  "vm.start": ["queued", "started"],
  "vm.stop": ["queued", "stopped"],
  "vm.restart": ["queued", "restarted"],
  "vm.pause": ["queued", "paused"],
  "vm.resume": ["queued", "resumed"],
  "vm.resize": ["queued", "resized"],
  "vm.delete": ["queued", "deleted"],
};

/** A new operation on a VM: the statement for the caller's batch, and its id. */
export function operationStatement(
  sc: ServiceContext,
  input: {
    kind: VmOperationKind;
    vm: Pick<VmRow, "id" | "orgId" | "projectId">;
    idempotency: Idempotency | null;
  },
): { id: string; statement: Statement } {
  const now = sc.deps.clock.now();
  const id = sc.deps.ids.next("operation");
  const steps: OperationStep[] = STEPS[input.kind].map((name, i) => ({
    name,
    // Scheduling and queueing happen in this very transaction.
    status: i === 0 || (input.kind === "vm.create" && i === 1) ? "done" : "pending",
    at: i === 0 || (input.kind === "vm.create" && i === 1) ? now : null,
  }));
  return {
    id,
    statement: sc.deps.db.insert(operations).values({
      id,
      orgId: input.vm.orgId,
      projectId: input.vm.projectId,
      kind: input.kind,
      targetType: "vm",
      targetId: input.vm.id,
      status: "pending",
      steps,
      errorCode: null,
      errorHint: null,
      actorType: sc.actor.kind,
      actorId: actorId(sc.actor),
      idempotencyKey: input.idempotency?.key ?? null,
      requestHash: input.idempotency?.hash ?? null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
    }),
  };
}

export type Idempotency = { key: string; hash: string };

/** The `Idempotency-Key` of a request plus a hash of what was asked, to tell replays from misuse. */
export async function idempotency(
  key: string | undefined,
  request: unknown,
): Promise<Idempotency | null> {
  if (key === undefined) return null;
  if (!/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new ServiceError(
      "VALIDATION",
      "Idempotency-Key must be 1 to 200 visible ASCII characters.",
      [
        {
          in: "header",
          field: "idempotency-key",
          code: "invalid",
          message: "1 to 200 visible ASCII characters",
        },
      ],
    );
  }
  return { key, hash: await sha256Hex(JSON.stringify(request)) };
}

/**
 * The operation an earlier request with the same key created, or null. The same key with another
 * request is a client bug: 422 `idempotency_mismatch`.
 */
export async function replayed(
  deps: Deps,
  actor: Actor,
  idem: Idempotency | null,
): Promise<OperationRow | null> {
  if (!idem) return null;
  const [row] = await deps.db
    .select()
    .from(operations)
    .where(and(eq(operations.actorId, actorId(actor)), eq(operations.idempotencyKey, idem.key)))
    .limit(1);
  if (!row) return null;
  if (row.requestHash !== idem.hash) {
    throw new ServiceError(
      "VALIDATION",
      "This Idempotency-Key was used for a different request.",
      [
        {
          in: "header",
          field: "idempotency-key",
          code: "reused",
          message: "already used for another request",
        },
      ],
      "idempotency_mismatch",
    );
  }
  return row;
}

/**
 * Refuses a second change while one is under way on the same VM (409 `operation_in_progress`),
 * naming the operation to wait for. Queueing would hide surprises (a stop queued behind a
 * long create); callers can wait on the named operation and retry.
 */
export async function refuseConcurrent(deps: Deps, vmId: string): Promise<void> {
  const [active] = await deps.db
    .select({ id: operations.id, kind: operations.kind })
    .from(operations)
    .where(
      and(
        eq(operations.targetType, "vm"),
        eq(operations.targetId, vmId),
        inArray(operations.status, ["pending", "running"]),
      ),
    )
    .orderBy(desc(operations.createdAt))
    .limit(1);
  if (active) {
    throw new ServiceError(
      "CONFLICT",
      `Operation ${active.id} (${active.kind}) is still in progress on this VM; wait for it and retry.`,
      [],
      "operation_in_progress",
    );
  }
}

export function operationView(op: OperationRow) {
  return {
    id: op.id,
    kind: op.kind,
    target: { type: op.targetType, id: op.targetId },
    projectId: op.projectId,
    status: op.status,
    steps: op.steps,
    error: op.errorCode ? { code: op.errorCode, hint: op.errorHint ?? "" } : null,
    createdAt: op.createdAt,
    startedAt: op.startedAt,
    finishedAt: op.finishedAt,
  };
}
export type OperationView = ReturnType<typeof operationView>;

export async function loadOperation(deps: Deps, id: string): Promise<OperationRow> {
  const [row] = await deps.db.select().from(operations).where(eq(operations.id, id)).limit(1);
  if (!row) throw new ServiceError("NOT_FOUND", `No operation ${id}.`);
  return row;
}
