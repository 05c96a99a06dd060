import { describe, expect, it } from "vitest";
import { addProjectMember } from "../../src/domain/projects/add-project-member";
import { createHarness } from "../support/harness";
import { refusalCode, secondWritesFirst } from "../support/held-writes";
import { actingAs, team } from "./fixtures";

describe("membership changes that race", () => {
  it("the same person added to a project twice at once: one is added, the other answers 409 already_member", async () => {
    const h = await createHarness();
    const t = await team(h);
    const owner = actingAs(h, t.owner);
    const input = { userId: t.viewer.user.id, role: "member" as const };
    const { first } = await secondWritesFirst(
      h.deps,
      (deps) => addProjectMember({ ...owner, deps }, t.project.id, input),
      () => addProjectMember(owner, t.project.id, input),
    );
    expect(await refusalCode(first)).toBe("already_member");
  });
});
