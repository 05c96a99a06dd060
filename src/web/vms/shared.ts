import type { EntityRef } from "../../authz/authorizer";
import type { ObservedState } from "../../db/schema";
import { subjectOf } from "../../domain/context";
import type { VmAction } from "../../domain/vms/change-state";
import { currentActor } from "../../http/auth";
import type { Ctx } from "../../http/env";

/** Whether the signed-in actor holds `permission` on `entity` (to show or hide a button). */
export async function may(c: Ctx, entity: EntityRef, permission: string): Promise<boolean> {
  const subject = subjectOf(currentActor(c));
  return (await c.var.deps.authz.check({ entity, permission, subject })).allowed;
}

/**
 * The observed states each action is offered in. The domain (src/domain/vms/change-state.ts)
 * decides and refuses others with 409 `invalid_state`; this copy only decides which buttons show.
 */
export const ACTION_FROM: Record<VmAction, readonly ObservedState[]> = {
  start: ["stopped", "error"],
  stop: ["running", "paused", "error", "provisioning", "pending"],
  restart: ["running"],
  pause: ["running"],
  resume: ["paused"],
  delete: [
    "pending",
    "scheduling",
    "provisioning",
    "running",
    "paused",
    "stopping",
    "stopped",
    "error",
    "unknown",
  ],
};

export const VM_ACTIONS: readonly VmAction[] = [
  "start",
  "stop",
  "restart",
  "pause",
  "resume",
  "delete",
];

export function isVmAction(value: string): value is VmAction {
  return (VM_ACTIONS as readonly string[]).includes(value);
}

/** States a VM passes through on its way somewhere: the pages keep polling while one shows. */
export const TRANSITIONAL: ReadonlySet<ObservedState> = new Set<ObservedState>([
  "pending",
  "scheduling",
  "provisioning",
  "stopping",
  "deleting",
]);

/** "2048" MiB → "2 GiB", "1536" → "1.5 GiB", "512" → "512 MiB". */
export function formatMemory(mb: number): string {
  if (mb < 1024) return `${mb} MiB`;
  const gib = mb / 1024;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}
