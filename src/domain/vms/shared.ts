import { eq } from "drizzle-orm";
import { vms } from "../../db/schema";
import type { Deps } from "../../deps";
import { ServiceError } from "../errors";

export type VmRow = typeof vms.$inferSelect;

export const vmRef = (id: string) => ({ type: "vm", id });

/** The VM row (authorization already checked, so a missing or deleted row is a 404). */
export async function loadVm(deps: Deps, vmId: string): Promise<VmRow> {
  const [row] = await deps.db.select().from(vms).where(eq(vms.id, vmId)).limit(1);
  if (!row) throw new ServiceError("NOT_FOUND", `No vm ${vmId}.`);
  return row;
}

/** What the API and pages show of a VM. */
export function vmView(vm: VmRow) {
  return {
    id: vm.id,
    projectId: vm.projectId,
    name: vm.name,
    description: vm.description,
    imageId: vm.imageId,
    vcpus: vm.vcpus,
    memoryMb: vm.memoryMb,
    diskGb: vm.diskGb,
    sshKeys: vm.sshKeys,
    labels: vm.labels,
    hostId: vm.hostId,
    desiredState: vm.desiredState,
    observedState: vm.observedState,
    stateReason: vm.stateReason,
    createdAt: vm.createdAt,
    updatedAt: vm.updatedAt,
  };
}
export type VmView = ReturnType<typeof vmView>;
