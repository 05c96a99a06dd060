import { authorizeActor } from "../authorize";
import type { ServiceContext } from "../context";
import { projectRef } from "../orgs/shared";
import { loadProject, type ProjectRow } from "./shared";

export async function getProject(sc: ServiceContext, projectId: string): Promise<ProjectRow> {
  await authorizeActor(sc, projectRef(projectId), "view");
  return loadProject(sc.deps, projectId);
}
