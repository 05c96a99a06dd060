import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { workItems } from "../../src/db/schema";
import { CreateImageInput, createImage } from "../../src/domain/images/images";
import { applyVmResult } from "../../src/domain/vms/apply-result";
import { approvedHost } from "../support/fleet";
import { createHarness } from "../support/harness";
import { refusalCode, secondWritesFirst } from "../support/held-writes";
import {
  actingAs,
  addMember,
  createOrg,
  expectInvalid,
  expectProblem,
  okJson,
  team,
} from "../tenancy/fixtures";

const SHA = "c".repeat(64);
type Image = { id: string; name: string; public: boolean };

describe("image catalog", () => {
  it("lets admins add images, members use them, and keeps images in use", async () => {
    const h = await createHarness();
    const t = await team(h);
    await approvedHost(h, t.org.id);
    const base = `/api/v1/organizations/${t.org.id}/images`;
    const body = {
      name: "ubuntu-24.04",
      url: "https://images.example/u.qcow2",
      sha256: SHA,
      format: "qcow2",
    };
    await expectProblem(
      await t.member.request(base, { method: "POST", json: body }),
      403,
      "forbidden",
    );
    await expectProblem(
      await t.outsider.request(base, { method: "POST", json: body }),
      404,
      "not_found",
    );
    await expectInvalid(
      await t.admin.request(base, { method: "POST", json: { ...body, sha256: "xyz" } }),
      "sha256",
    );
    await expectInvalid(
      await t.admin.request(base, { method: "POST", json: { ...body, url: "ftp://x" } }),
      "url",
    );
    const image = await okJson<Image>(
      await t.admin.request(base, { method: "POST", json: body }),
      201,
    );
    await expectProblem(
      await t.admin.request(base, { method: "POST", json: body }),
      409,
      "slug_taken",
    );
    const list = await okJson<{ items: Image[] }>(await t.viewer.request(base));
    expect(list.items.map((i) => i.name)).toEqual(["ubuntu-24.04"]);
    await expectProblem(await t.outsider.request(base), 404, "not_found");

    const created = await okJson<{ vm: { id: string } }>(
      await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
        method: "POST",
        json: { name: "u1", imageId: image.id, vcpus: 1, memoryMb: 512, diskGb: 4 },
      }),
      202,
    );
    await expectProblem(
      await t.admin.request(`/api/v1/images/${image.id}`, { method: "DELETE" }),
      409,
      "not_empty",
    );
    await expectProblem(
      await t.member.request(`/api/v1/images/${image.id}`, { method: "DELETE" }),
      403,
      "forbidden",
    );

    // Once the VM is gone (the host confirmed), the image can go too.
    const hostFinishes = async () => {
      const items = await h.deps.db
        .select()
        .from(workItems)
        .where(eq(workItems.resourceId, created.vm.id));
      const latest = items.sort((a, b) => b.seq - a.seq)[0];
      if (!latest) throw new Error("no work item");
      await applyVmResult(h.deps, latest, { lease_epoch: 1, attempt: 1, outcome: "succeeded" });
    };
    await hostFinishes();
    expect(
      (await t.member.request(`/api/v1/vms/${created.vm.id}`, { method: "DELETE" })).status,
    ).toBe(202);
    await hostFinishes();
    expect((await t.admin.request(`/api/v1/images/${image.id}`, { method: "DELETE" })).status).toBe(
      204,
    );
    expect((await okJson<{ items: Image[] }>(await t.viewer.request(base))).items).toEqual([]);
  });

  it("shares public images with every organization", async () => {
    const h = await createHarness();
    const a = await team(h);
    const b = await team(h);
    const pub = await okJson<Image>(
      await a.admin.request(`/api/v1/organizations/${a.org.id}/images`, {
        method: "POST",
        json: {
          name: "public-img",
          url: "https://images.example/p.raw",
          sha256: SHA,
          format: "raw",
          public: true,
        },
      }),
      201,
    );
    await a.admin.request(`/api/v1/organizations/${a.org.id}/images`, {
      method: "POST",
      json: {
        name: "private-img",
        url: "https://images.example/q.raw",
        sha256: SHA,
        format: "raw",
      },
    });
    const seen = await okJson<{ items: Image[] }>(
      await b.viewer.request(`/api/v1/organizations/${b.org.id}/images`),
    );
    expect(seen.items.map((i) => i.id)).toEqual([pub.id]);
  });

  it("a private image of one organization cannot make VMs in another, even for someone in both", async () => {
    const h = await createHarness();
    const t = await team(h);
    const theirs = await createOrg(t.outsider, "Other");
    await addMember(h, theirs.id, t.member, "viewer");
    const image = await okJson<Image>(
      await t.outsider.request(`/api/v1/organizations/${theirs.id}/images`, {
        method: "POST",
        json: {
          name: "private",
          url: "https://images.example/p.qcow2",
          sha256: SHA,
          format: "qcow2",
        },
      }),
      201,
    );
    await approvedHost(h, t.org.id);
    // The member may see it (a viewer there), but not use it in their own organization's project.
    const made = await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "web-1", imageId: image.id, vcpus: 1, memoryMb: 1024, diskGb: 10 },
    });
    await expectProblem(made, 404, "not_found");
  });

  it("the same image name created twice at once: one is created, the other answers 409 slug_taken", async () => {
    const h = await createHarness();
    const t = await team(h);
    const admin = actingAs(h, t.admin);
    const input = CreateImageInput.parse({
      name: "debian",
      url: "https://images.example/d.qcow2",
      sha256: SHA,
      format: "qcow2",
    });
    const { first } = await secondWritesFirst(
      h.deps,
      (deps) => createImage({ ...admin, deps }, t.org.id, input),
      () => createImage(admin, t.org.id, input),
    );
    expect(await refusalCode(first)).toBe("slug_taken");
  });
});
