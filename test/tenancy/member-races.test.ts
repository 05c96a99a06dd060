import { describe, expect, it } from "vitest";
import type { ServiceContext } from "../../src/domain/context";
import { ServiceError } from "../../src/domain/errors";
import { addProjectMember } from "../../src/domain/projects/add-project-member";
import { createHarness } from "../support/harness";
import { heldWrites } from "../support/held-writes";
import { team } from "./fixtures";

describe("membership changes that race", () => {
  it("the same person added to a project twice at once: one is added, the other answers 409 already_member", async () => {
    const h = await createHarness();
    const t = await team(h);
    const owner: ServiceContext = {
      deps: h.deps,
      actor: { kind: "user", userId: t.owner.user.id, sessionId: null },
      requestId: "req_race",
    };
    const input = { userId: t.viewer.user.id, role: "member" as const };
    const slow = heldWrites(h.deps);
    const first = addProjectMember({ ...owner, deps: slow.deps }, t.project.id, input);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await addProjectMember(owner, t.project.id, input);
    slow.release();
    const refused = await first.then(
      () => "none",
      (err: unknown) => (err instanceof ServiceError ? (err.reason ?? err.code) : String(err)),
    );
    expect(refused).toBe("already_member");
  });
});
