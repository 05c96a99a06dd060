import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agentAccessTokens, operations, vms, workItems } from "../../src/db/schema";
import { sha256Hex } from "../../src/lib/secrets";
import { call } from "../agent/support";
import { vmFleet } from "../support/fleet";
import type { Harness } from "../support/harness";
import { okJson } from "../tenancy/fixtures";

/** An access token for a fleet host (made directly: enrollment and sign-in have their own tests). */
async function hostToken(h: Harness, hostId: string): Promise<string> {
  const token = `test-agent-token-${hostId}`;
  await h.deps.db.insert(agentAccessTokens).values({
    tokenHash: await sha256Hex(token),
    hostId,
    createdAt: h.clock.now(),
    expiresAt: h.clock.now() + 15 * 60_000,
  });
  return token;
}

describe("progress lines of a VM's work item", () => {
  it("show as the VM's reason while it moves, and a create's provisioned step once it boots", async () => {
    const { h, t, hostId, imageId } = await vmFleet();
    const token = await hostToken(h, hostId);
    const { vm, operation } = await okJson<{ vm: { id: string }; operation: { id: string } }>(
      await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
        method: "POST",
        json: { name: "web-1", imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
      }),
      202,
    );
    const [item] = await h.deps.db.select().from(workItems).where(eq(workItems.idem, operation.id));
    if (!item) throw new Error("no work item");
    expect((await call(h, "/claim", { token, body: { cursor: 0 } })).status).toBe(200);
    const ack = await call(h, `/items/${item.id}/ack`, {
      token,
      body: { status: "accepted", lease_epoch: 1 },
    });
    expect(ack.status).toBe(200);
    const report = (range: string, messages: string[]) =>
      call(h, `/items/${item.id}/events`, {
        token,
        headers: { "idempotency-key": `${item.id}:1:events:${range}` },
        body: {
          lease_epoch: 1,
          events: messages.map((message) => ({ kind: "progress", at: h.clock.now(), message })),
        },
      });

    expect((await report("0-2", ["image ready", "disk ready"])).status).toBe(200);
    const steps = async () =>
      Object.fromEntries(
        (
          (await h.deps.db.select().from(operations).where(eq(operations.id, operation.id)))[0]
            ?.steps ?? []
        ).map((s) => [s.name, s.status]),
      );
    const [moving] = await h.deps.db.select().from(vms).where(eq(vms.id, vm.id));
    expect(moving).toMatchObject({
      observedState: "provisioning",
      stateReason: "vm.create: disk ready",
    });
    expect(await steps()).toMatchObject({ provisioned: "pending", running: "pending" });

    expect((await report("2-4", ["seed ready", "booting"])).status).toBe(200);
    const [booting] = await h.deps.db.select().from(vms).where(eq(vms.id, vm.id));
    expect(booting?.stateReason).toBe("vm.create: booting");
    expect(await steps()).toMatchObject({ provisioned: "done", running: "pending" });
    // The same batch again (an answer lost on the way): nothing changes twice.
    expect(
      (await report("2-4", ["seed ready", "booting"])).headers.get("idempotent-replayed"),
    ).toBe("true");

    // A settled VM's reason is not overwritten by a late line.
    await h.deps.db
      .update(vms)
      .set({ observedState: "running", stateReason: "up" })
      .where(eq(vms.id, vm.id));
    expect((await report("4-5", ["late line"])).status).toBe(200);
    expect((await h.deps.db.select().from(vms).where(eq(vms.id, vm.id)))[0]?.stateReason).toBe(
      "up",
    );
  });
});
