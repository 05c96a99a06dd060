import { eq } from "drizzle-orm";
import { images, vms } from "../../db/schema";
import type { Deps } from "../../deps";

/**
 * Whether a project holds no resources, so it may be deleted: no live VM and no project-scoped
 * image. This is the one place that counts them; `deleteProject` answers 409 `not_empty`.
 */
export async function projectIsEmpty(deps: Deps, projectId: string): Promise<boolean> {
  const [vm] = await deps.db
    .select({ id: vms.id })
    .from(vms)
    .where(eq(vms.projectId, projectId))
    .limit(1);
  if (vm) return false;
  const [image] = await deps.db
    .select({ id: images.id })
    .from(images)
    .where(eq(images.projectId, projectId))
    .limit(1);
  return !image;
}
