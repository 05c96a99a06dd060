import { describe, expect, it } from "vitest";
import { decideHost } from "../../src/domain/hosts/transition";
import { silentWakeup } from "../../src/wakeup/wakeup";
import { createHarness } from "../support/harness";
import { call, problem, readyHost, system } from "./support";

const UPGRADE = { upgrade: "websocket", connection: "Upgrade" };
const connect = "/connect?boot_id=boot-1";

/**
 * GET /api/v1/agent/connect before any socket exists: the checks every work endpoint makes, then
 * the upgrade itself. The sockets (Node and Workers) are tested with real processes in
 * doorbell-process.test.ts and agent-worker.test.ts.
 */
describe("doorbell endpoint (GET /api/v1/agent/connect)", () => {
  it("refuses an upgrade without a valid access token: 401 problem+json", async () => {
    const h = await createHarness();
    await problem(await call(h, connect, { headers: UPGRADE }), 401, "unauthenticated");
    await problem(
      await call(h, connect, { headers: UPGRADE, token: "strato_agt_nope" }),
      401,
      "unauthenticated",
    );
  });

  it("refuses pending, disabled and revoked hosts before the upgrade", async () => {
    const h = await createHarness();
    const pending = await readyHost(h, null);
    await problem(
      await call(h, connect, { headers: UPGRADE, token: pending.token }),
      403,
      "pending_approval",
    );
    const host = await readyHost(h);
    await decideHost(system(h), host.hostId, "disable");
    await problem(
      await call(h, connect, { headers: UPGRADE, token: host.token }),
      403,
      "host_disabled",
    );
    await decideHost(system(h), host.hostId, "revoke");
    await problem(
      await call(h, connect, { headers: UPGRADE, token: host.token }),
      403,
      "host_revoked",
    );
  });

  it("answers a plain GET with 426 upgrade_required and a bad boot id with 422", async () => {
    const h = await createHarness();
    const { token } = await readyHost(h);
    const res = await call(h, connect, { token });
    expect(res.headers.get("upgrade")).toBe("websocket");
    await problem(res, 426, "upgrade_required");
    await problem(
      await call(h, "/connect?boot_id=a%20b", { headers: UPGRADE, token }),
      422,
      "validation_failed",
    );
    await problem(await call(h, "/connect", { headers: UPGRADE, token }), 422, "validation_failed");
  });

  it("says not_ready where the runtime holds no sockets (agents long-poll instead)", async () => {
    const h = await createHarness();
    const { token } = await readyHost(h);
    await problem(await call(h, connect, { headers: UPGRADE, token }), 503, "not_ready");
  });

  it("says not_ready, not 500, when the doorbell itself fails, and logs why", async () => {
    const h = await createHarness();
    const { token } = await readyHost(h);
    h.deps.wakeup = {
      ...silentWakeup,
      connect: async () => {
        throw new Error("doorbell answered 500");
      },
    };
    await problem(await call(h, connect, { headers: UPGRADE, token }), 503, "not_ready");
    expect(h.logs.entries.find((e) => e.message === "doorbell connect failed")).toMatchObject({
      level: "error",
      error: "Error: doorbell answered 500",
    });
  });
});
