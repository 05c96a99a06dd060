import { z } from "@hono/zod-openapi";
import { OBSERVED_STATES } from "../../../db/schema";
import type { ImageRow } from "../../../domain/images/images";
import { type OperationRow, operationView } from "../../../domain/vms/operations";
import { type VmRow, vmView } from "../../../domain/vms/shared";

const idOf = (prefix: string, what: string) =>
  z
    .string()
    .max(64)
    .regex(new RegExp(`^${prefix}_[0-9a-z]{1,60}$`), `must be ${what} id (${prefix}_…)`);

export const VmIdParam = z.object({
  vmId: idOf("vm", "a VM").openapi({ param: { name: "vmId", in: "path" } }),
});
export const OperationIdParam = z.object({
  operationId: idOf("op", "an operation").openapi({ param: { name: "operationId", in: "path" } }),
});
export const ImageIdParam = z.object({
  imageId: idOf("img", "an image").openapi({ param: { name: "imageId", in: "path" } }),
});

export const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .optional()
    .openapi({ description: "Repeat a request safely: the same key returns the same operation" }),
});

export const Vm = z
  .object({
    id: z.string(),
    projectId: z.string(),
    name: z.string(),
    description: z.string(),
    imageId: z.string(),
    vcpus: z.number().int(),
    memoryMb: z.number().int(),
    diskGb: z.number().int(),
    sshKeys: z.array(z.string()),
    labels: z.record(z.string(), z.string()),
    hostId: z.string().nullable(),
    desiredState: z.enum(["running", "stopped", "deleted"]),
    observedState: z.enum(OBSERVED_STATES),
    stateReason: z.string(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi("Vm");

export const Operation = z
  .object({
    id: z.string(),
    kind: z.string(),
    target: z.object({ type: z.string(), id: z.string() }),
    projectId: z.string(),
    status: z.enum(["pending", "running", "succeeded", "failed", "cancelled"]),
    steps: z.array(
      z.object({
        name: z.string(),
        status: z.enum(["pending", "running", "done", "failed"]),
        at: z.number().int().nullable(),
      }),
    ),
    error: z.object({ code: z.string(), hint: z.string() }).nullable(),
    createdAt: z.number().int(),
    startedAt: z.number().int().nullable(),
    finishedAt: z.number().int().nullable(),
  })
  .openapi("Operation", {
    description:
      "What a mutating VM call returns (202). Conflicting changes on one VM are refused with 409 `operation_in_progress`, not queued: wait for the named operation and retry.",
  });

export const VmConsole = z
  .object({
    at: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "When the host reported it (ms); null: nothing reported yet" }),
    text: z.string().openapi({ description: "The last 8 KiB of serial console output, as text" }),
  })
  .openapi("VmConsole");

export const Accepted = z.object({ vm: Vm, operation: Operation }).openapi("VmOperationAccepted");

export const Image = z
  .object({
    id: z.string(),
    orgId: z.string(),
    projectId: z.string().nullable(),
    name: z.string(),
    url: z.string(),
    sha256: z.string(),
    format: z.enum(["qcow2", "raw"]),
    minDiskGb: z.number().int(),
    public: z.boolean(),
    createdAt: z.number().int(),
  })
  .openapi("Image");

export const Quota = z
  .object({
    limits: z.object({
      maxVms: z.number().int(),
      maxVcpus: z.number().int(),
      maxMemoryMb: z.number().int(),
      maxDiskGb: z.number().int(),
    }),
    usage: z.object({
      vms: z.number().int(),
      vcpus: z.number().int(),
      memoryMb: z.number().int(),
      diskGb: z.number().int(),
    }),
  })
  .openapi("ProjectQuota");

export const vmJson = (vm: VmRow) => vmView(vm);
export const operationJson = (op: OperationRow) => operationView(op);
export const imageJson = (i: ImageRow) => ({ ...i });
