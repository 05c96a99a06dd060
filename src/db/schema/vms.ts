import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { hosts } from "./hosts";
import { organizations, projects } from "./tenancy";

export const DESIRED_STATES = ["running", "stopped", "deleted"] as const;
export type DesiredState = (typeof DESIRED_STATES)[number];

export const OBSERVED_STATES = [
  "pending",
  "scheduling",
  "provisioning",
  "running",
  "paused",
  "stopping",
  "stopped",
  "deleting",
  "deleted",
  "error",
  "unknown",
] as const;
export type ObservedState = (typeof OBSERVED_STATES)[number];

/** The image catalog of an organization: org-wide, or scoped to one project; public to everyone. */
export const images = sqliteTable(
  "images",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    projectId: text("project_id").references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    url: text("url").notNull(),
    sha256: text("sha256").notNull(),
    format: text("format", { enum: ["qcow2", "raw"] }).notNull(),
    minDiskGb: integer("min_disk_gb").notNull(),
    public: integer("public", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("images_org_name_unique").on(t.orgId, t.name)],
);

/**
 * Virtual machines: what the user asked for (`desired_state`, sizes) and what the host last
 * reported (`observed_state` and why). `generation` grows with every change of desired state, so
 * agents can drop superseded work. The row goes when the host confirms the deletion; the audit
 * log and the operations keep the history.
 */
export const vms = sqliteTable(
  "vms",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    imageId: text("image_id")
      .notNull()
      .references(() => images.id),
    vcpus: integer("vcpus").notNull(),
    memoryMb: integer("memory_mb").notNull(),
    diskGb: integer("disk_gb").notNull(),
    sshKeys: text("ssh_keys", { mode: "json" }).$type<string[]>().notNull(),
    userData: text("user_data").notNull().default(""),
    labels: text("labels", { mode: "json" }).$type<Record<string, string>>().notNull(),
    hostId: text("host_id").references(() => hosts.id),
    desiredState: text("desired_state", { enum: DESIRED_STATES }).notNull(),
    observedState: text("observed_state", { enum: OBSERVED_STATES }).notNull(),
    stateReason: text("state_reason").notNull().default(""),
    generation: integer("generation").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("vms_project_name_unique").on(t.projectId, t.name),
    index("vms_host_idx").on(t.hostId),
    index("vms_project_created_idx").on(t.projectId, t.createdAt),
  ],
);

/** Limits per project; usage is summed from live VMs. Missing row → the defaults in code. */
export const projectQuotas = sqliteTable("project_quotas", {
  projectId: text("project_id")
    .primaryKey()
    .references(() => projects.id, { onDelete: "cascade" }),
  maxVms: integer("max_vms").notNull(),
  maxVcpus: integer("max_vcpus").notNull(),
  maxMemoryMb: integer("max_memory_mb").notNull(),
  maxDiskGb: integer("max_disk_gb").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const OPERATION_STATUSES = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "cancelled",
] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export type OperationStep = {
  name: string;
  status: "pending" | "running" | "done" | "failed";
  at: number | null;
};

/**
 * What a mutating call returns (202): one operation per user action, with progress steps and, on
 * failure, a stable error code and a hint. `idempotency_key` + `request_hash` make retries safe.
 */
export const operations = sqliteTable(
  "operations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    projectId: text("project_id").notNull(),
    kind: text("kind").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    status: text("status", { enum: OPERATION_STATUSES }).notNull(),
    steps: text("steps", { mode: "json" }).$type<OperationStep[]>().notNull(),
    errorCode: text("error_code"),
    errorHint: text("error_hint"),
    actorType: text("actor_type").notNull(),
    actorId: text("actor_id").notNull(),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    index("operations_target_idx").on(t.targetType, t.targetId, t.createdAt),
    index("operations_project_idx").on(t.projectId, t.createdAt),
    uniqueIndex("operations_idempotency_unique").on(t.actorId, t.idempotencyKey),
  ],
);

/**
 * What hosts report about their running VMs (serial console tail, cumulative I/O counters), one
 * row per status report; an hour is kept per VM so the detail page can chart recent activity.
 */
export const vmTelemetrySamples = sqliteTable(
  "vm_telemetry",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    vmId: text("vm_id")
      .notNull()
      .references(() => vms.id, { onDelete: "cascade" }),
    at: integer("at").notNull(),
    consoleTail: text("console_tail"),
    /** Counter name → decimal string (u64 values exceed JavaScript's safe integers). */
    counters: text("counters", { mode: "json" }).$type<Record<string, string>>(),
  },
  (t) => [index("vm_telemetry_vm_at_idx").on(t.vmId, t.at)],
);
