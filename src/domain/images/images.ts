import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { authzAttributes, images, vms } from "../../db/schema";
import type { Deps } from "../../deps";
import { auditStatement } from "../audit/record";
import { auditRefusals } from "../audit/refusals";
import { authorizeActor } from "../authorize";
import { commit, commitOr, type ServiceContext, subjectOf } from "../context";
import { ServiceError } from "../errors";
import { orgRef, projectRef } from "../orgs/shared";
import { loadProject } from "../projects/shared";
import { deleteTuples, writeTuples } from "../relationships";

export type ImageRow = typeof images.$inferSelect;
export const imageRef = (id: string) => ({ type: "image", id });

export const CreateImageInput = z.object({
  name: z.string().trim().min(1).max(100),
  url: z.url({ protocol: /^https?$/ }).max(2048),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, "64 lower-case hex digits"),
  format: z.enum(["qcow2", "raw"]),
  minDiskGb: z.number().int().min(1).max(4096).default(1),
  /** Usable by every account on the installation. */
  public: z.boolean().default(false),
  /** Limit the image to one project of the organization. */
  projectId: z.string().min(1).max(64).optional(),
});
export type CreateImageInput = z.infer<typeof CreateImageInput>;

/** Adds an image to an organization's catalog (or one project's). */
async function createImageInner(
  sc: ServiceContext,
  orgId: string,
  input: CreateImageInput,
): Promise<ImageRow> {
  if (input.projectId !== undefined) {
    await authorizeActor(sc, projectRef(input.projectId), "manage_images");
    const project = await loadProject(sc.deps, input.projectId);
    if (project.orgId !== orgId)
      throw new ServiceError("NOT_FOUND", `No project ${input.projectId}.`);
  } else {
    await authorizeActor(sc, orgRef(orgId), "manage_images");
  }
  const { db, clock, ids } = sc.deps;
  const [taken] = await db
    .select({ id: images.id })
    .from(images)
    .where(and(eq(images.orgId, orgId), eq(images.name, input.name)));
  const nameTaken = () =>
    new ServiceError(
      "CONFLICT",
      `An image named ${input.name} exists.`,
      [{ in: "body", field: "name", code: "taken", message: "already used in this organization" }],
      "slug_taken",
    );
  if (taken) throw nameTaken();
  const now = clock.now();
  const row: ImageRow = {
    id: ids.next("image"),
    orgId,
    projectId: input.projectId ?? null,
    name: input.name,
    url: input.url,
    sha256: input.sha256,
    format: input.format,
    minDiskGb: input.minDiskGb,
    public: input.public,
    createdAt: now,
  };
  const ref = imageRef(row.id);
  await commitOr(nameTaken, db, [
    db.insert(images).values(row),
    ...writeTuples(sc, [
      input.projectId !== undefined
        ? { entity: ref, relation: "project", subject: projectRef(input.projectId) }
        : { entity: ref, relation: "org", subject: orgRef(orgId) },
    ]),
    db.insert(authzAttributes).values({
      entityType: "image",
      entityId: row.id,
      attribute: "public",
      value: input.public,
      updatedAt: now,
    }),
    auditStatement(sc, {
      action: "image.create",
      target: ref,
      orgId,
      detail: { name: row.name, public: row.public },
    }),
  ]);
  return row;
}

/** Images the caller may use in an organization: its own catalog plus public ones. */
export async function listImages(sc: ServiceContext, orgId: string): Promise<ImageRow[]> {
  await authorizeActor(sc, orgRef(orgId), "view");
  const ids = await sc.deps.authz.lookupEntity({
    entityType: "image",
    permission: "use",
    subject: subjectOf(sc.actor),
  });
  if (ids.length === 0) return [];
  const rows = await sc.deps.db.select().from(images).where(inArray(images.id, ids));
  return rows
    .filter((i) => i.orgId === orgId || i.public)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function loadImage(deps: Deps, id: string): Promise<ImageRow> {
  const [row] = await deps.db.select().from(images).where(eq(images.id, id)).limit(1);
  if (!row) throw new ServiceError("NOT_FOUND", `No image ${id}.`);
  return row;
}

/** Removes an image from the catalog unless a live VM was created from it. */
async function deleteImageInner(sc: ServiceContext, id: string): Promise<void> {
  await authorizeActor(sc, imageRef(id), "delete");
  const image = await loadImage(sc.deps, id);
  const [inUse] = await sc.deps.db
    .select({ id: vms.id })
    .from(vms)
    .where(eq(vms.imageId, id))
    .limit(1);
  if (inUse)
    throw new ServiceError(
      "CONFLICT",
      `VM ${inUse.id} was created from this image.`,
      [],
      "not_empty",
    );
  const { db } = sc.deps;
  await commit(db, [
    db.delete(images).where(eq(images.id, id)),
    deleteTuples(sc, imageRef(id)),
    db
      .delete(authzAttributes)
      .where(and(eq(authzAttributes.entityType, "image"), eq(authzAttributes.entityId, id))),
    auditStatement(sc, {
      action: "image.delete",
      target: imageRef(id),
      orgId: image.orgId,
      detail: { name: image.name },
    }),
  ]);
}

/** createImage with its refusals (403, 409) recorded in the audit log too. */
export function createImage(
  sc: ServiceContext,
  orgId: string,
  input: CreateImageInput,
): Promise<ImageRow> {
  return auditRefusals(sc, { action: "image.create", target: orgRef(orgId), orgId }, () =>
    createImageInner(sc, orgId, input),
  );
}

/** deleteImage with its refusals (403, 409) recorded in the audit log too. */
export function deleteImage(sc: ServiceContext, id: string): Promise<void> {
  return auditRefusals(
    sc,
    {
      action: "image.delete",
      target: imageRef(id),
      orgId: async () => (await loadImage(sc.deps, id)).orgId,
    },
    () => deleteImageInner(sc, id),
  );
}
