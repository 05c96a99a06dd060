import { vms } from "../../db/schema";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, type ServiceContext } from "../context";
import { ServiceError } from "../errors";
import { imageRef, loadImage } from "../images/images";
import { isUniqueViolation, projectRef } from "../orgs/shared";
import { loadProject } from "../projects/shared";
import { writeTuples } from "../relationships";
import { hostAllowance, placeVm } from "../scheduler/place";
import { retryStaleOnce } from "../write-guard";
import { capacityGuard } from "./capacity-guard";
import { dispatchAfterCommit } from "./dispatch";
import {
  type Idempotency,
  loadOperation,
  type OperationRow,
  operationStatement,
  replayed,
} from "./operations";
import { hostCandidates } from "./placement";
import { projectQuota, quotaShortfall } from "./quotas";
import type { CreateVmInput } from "./schemas";
import { loadVm, type VmRow, vmRef } from "./shared";

/**
 * Creates a VM: authorize, check image and quota, place it, then one batch with the VM (desired
 * running), its operation, its relationships and the audit event; then the work item for its host.
 */
async function createVmInner(
  sc: ServiceContext,
  projectId: string,
  input: CreateVmInput,
  idem: Idempotency | null,
): Promise<{ vm: VmRow; operation: OperationRow; replay: boolean }> {
  await authorizeActor(sc, projectRef(projectId), "create_vm");
  const earlier = await replayed(sc.deps, sc.actor, idem);
  if (earlier) {
    return { vm: await loadVm(sc.deps, earlier.targetId), operation: earlier, replay: true };
  }
  const project = await loadProject(sc.deps, projectId);
  await authorizeActor(sc, imageRef(input.imageId), "use", { viewPermission: "view" });
  const image = await loadImage(sc.deps, input.imageId);
  // Someone in two organizations may see an image of one of them; a VM of the other may not use
  // it (its owners may delete it) unless it is public. A project's image stays in that project.
  const usableHere =
    image.public || (image.orgId === project.orgId && (image.projectId ?? projectId) === projectId);
  if (!usableHere) {
    throw new ServiceError("NOT_FOUND", `No image ${input.imageId} for this project.`, [
      {
        in: "body",
        field: "imageId",
        code: "not_found",
        message: "no such image for this project",
      },
    ]);
  }
  if (input.diskGb < image.minDiskGb) {
    throw new ServiceError(
      "VALIDATION",
      `Image ${image.name} needs a disk of at least ${image.minDiskGb} GB.`,
      [
        {
          in: "body",
          field: "diskGb",
          code: "too_small",
          message: `at least ${image.minDiskGb} GB for this image`,
        },
      ],
    );
  }

  const { limits, usage } = await projectQuota(sc.deps, projectId);
  const over = quotaShortfall(limits, usage, {
    vms: 1,
    vcpus: input.vcpus,
    memoryMb: input.memoryMb,
    diskGb: input.diskGb,
  });
  if (over) {
    throw new ServiceError(
      "CONFLICT",
      `The project's ${over.resource} quota is ${over.limit}; ${over.used} in use, ${over.requested} requested.`,
      [],
      "no_capacity",
      { scope: "quota", quota: over },
    );
  }
  const candidates = await hostCandidates(sc.deps, project.orgId);
  const policy = sc.deps.config.placement;
  const placement = placeVm(
    candidates,
    { vcpus: input.vcpus, memoryMb: input.memoryMb, diskGb: input.diskGb },
    policy,
  );
  if (!placement.ok) {
    throw new ServiceError("CONFLICT", placement.detail, [], "no_capacity", {
      scope: placement.scope,
    });
  }
  const chosen = candidates.find((h) => h.id === placement.hostId);
  if (!chosen) throw new Error(`placed on ${placement.hostId}, which is not a candidate`);

  const now = sc.deps.clock.now();
  const vm: VmRow = {
    id: sc.deps.ids.next("vm"),
    orgId: project.orgId,
    projectId,
    name: input.name,
    description: input.description,
    imageId: image.id,
    vcpus: input.vcpus,
    memoryMb: input.memoryMb,
    diskGb: input.diskGb,
    sshKeys: input.sshKeys,
    userData: input.userData,
    labels: input.labels,
    hostId: placement.hostId,
    desiredState: "running",
    observedState: "provisioning",
    stateReason: "placed; waiting for the host",
    generation: 1,
    createdAt: now,
    updatedAt: now,
  };
  const op = operationStatement(sc, { kind: "vm.create", vm, idempotency: idem });
  try {
    await commit(sc.deps.db, [
      sc.deps.db.insert(vms).values(vm),
      // Another create may have taken the room since the checks above.
      capacityGuard(
        sc.deps.db,
        { id: projectId, limits },
        { id: chosen.id, allowance: hostAllowance(chosen, policy) },
      ),
      op.statement,
      ...writeTuples(sc, [
        { entity: vmRef(vm.id), relation: "project", subject: projectRef(projectId) },
      ]),
      auditStatement(sc, {
        action: "vm.create",
        target: vmRef(vm.id),
        orgId: vm.orgId,
        detail: { name: vm.name, projectId, hostId: vm.hostId, operationId: op.id },
      }),
    ]);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // The same Idempotency-Key sent twice at once: the other request made the VM.
    const other = await replayed(sc.deps, sc.actor, idem);
    if (other) return { vm: await loadVm(sc.deps, other.targetId), operation: other, replay: true };
    throw new ServiceError(
      "CONFLICT",
      `A VM named ${input.name} exists in this project.`,
      [{ in: "body", field: "name", code: "taken", message: "already used in this project" }],
      "slug_taken",
    );
  }
  await dispatchAfterCommit(sc.deps, op.id, "vm.create", vm);
  return { vm, operation: await loadOperation(sc.deps, op.id), replay: false };
}

/** createVm with its refusals (403, 409) recorded in the audit log too. */
export function createVm(
  sc: ServiceContext,
  projectId: string,
  input: CreateVmInput,
  idem: Idempotency | null,
) {
  return auditRefusals(
    sc,
    {
      action: "vm.create",
      target: projectRef(projectId),
      orgId: async () => (await loadProject(sc.deps, projectId)).orgId,
    },
    () => retryStaleOnce(() => createVmInner(sc, projectId, input, idem)),
  );
}
