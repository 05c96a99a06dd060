import { describe, expect, it } from "vitest";
import { createHarness } from "../support/harness";
import { createProject, expectInvalid, expectProblem, okJson, team } from "./fixtures";

type Page = {
  items: { id: string; action: string; actorId: string; requestId: string; at: number }[];
  nextCursor: string | null;
};

describe("audit events", () => {
  it("lists an organization's events newest first, filtered, with keyset pagination", async () => {
    const h = await createHarness();
    const t = await team(h);
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      await createProject(t.admin, t.org.id, `P${i}`);
    }
    const base = `/api/v1/organizations/${t.org.id}/audit-events`;
    const all = await okJson<Page>(await t.owner.request(base));
    expect(all.items.map((e) => e.action)).toEqual([
      ...Array(5).fill("project.create"),
      "project.create",
      "organization.create",
    ]);
    const ats = all.items.map((e) => e.at);
    expect([...ats].sort((a, b) => b - a)).toEqual(ats);

    const mine = await okJson<Page>(
      await t.owner.request(`${base}?action=project.create&actorId=${t.admin.user.id}`),
    );
    expect(mine.items.length).toBe(5);
    expect(mine.items.every((e) => e.actorId === t.admin.user.id)).toBe(true);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string =
        cursor === null ? "?limit=2" : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
      const page: Page = await okJson<Page>(await t.admin.request(`${base}${query}`));
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(all.items.map((e) => e.id));
  });

  it("is for owners and admins; others get 403, outsiders 404; bad queries 422", async () => {
    const h = await createHarness();
    const t = await team(h);
    const base = `/api/v1/organizations/${t.org.id}/audit-events`;
    expect((await t.admin.request(base)).status).toBe(200);
    await expectProblem(await t.member.request(base), 403, "forbidden");
    await expectProblem(await t.viewer.request(base), 403, "forbidden");
    await expectProblem(await t.outsider.request(base), 404, "not_found");
    await expectProblem(await h.request(base), 401, "unauthenticated");
    await expectInvalid(await t.owner.request(`${base}?limit=0`), "limit", "query");
    await expectInvalid(await t.owner.request(`${base}?limit=abc`), "limit", "query");
    await expectInvalid(await t.owner.request(`${base}?cursor=zzz`), "cursor", "query");
    await expectInvalid(await t.owner.request(`${base}?action=DROP%20TABLE`), "action", "query");
  });
});
