import { describe, expect, it } from "vitest";
import { type ProgressEvent, ProgressOutbox } from "../../agent/src/progress";

/** The outbox's requests as the control plane would see them: key (range) and messages. */
function recorder(failFirst = 0) {
  const calls: { range: string; messages: string[] }[] = [];
  let failures = failFirst;
  const send = async (events: ProgressEvent[], range: string) => {
    calls.push({ range, messages: events.map((e) => e.message) });
    if (failures-- > 0) throw new Error("connection reset");
  };
  return { calls, send };
}

describe("progress outbox (agent/src/progress.ts)", () => {
  it("resends a failed batch unchanged under its key, then what came after it", async () => {
    const { calls, send } = recorder(1);
    const errors: unknown[] = [];
    const outbox = new ProgressOutbox(send, (e) => errors.push(e), 3_600_000);
    outbox.push("image ready");
    await outbox.flush();
    outbox.push("disk ready", { created: true });
    await outbox.close();
    expect(errors).toHaveLength(1);
    expect(calls).toEqual([
      { range: "0-1", messages: ["image ready"] },
      { range: "0-1", messages: ["image ready"] },
      { range: "1-2", messages: ["disk ready"] },
    ]);
    // Nothing new: nothing sent.
    await outbox.flush();
    expect(calls).toHaveLength(3);
  });

  it("sends at most 500 lines a request and caps a line's length", async () => {
    const { calls, send } = recorder();
    const outbox = new ProgressOutbox(send, () => {}, 3_600_000);
    for (let i = 0; i < 1201; i++) outbox.push(i === 0 ? "x".repeat(5000) : `line ${i}`);
    await outbox.close();
    expect(calls.map((c) => c.range)).toEqual(["0-500", "500-1000", "1000-1201"]);
    expect(calls[0]?.messages[0]).toHaveLength(4000);
  });

  it("flushes on its own while the item runs", async () => {
    const { calls, send } = recorder();
    const outbox = new ProgressOutbox(send, () => {}, 20);
    outbox.push("sleeping");
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toEqual([{ range: "0-1", messages: ["sleeping"] }]);
    await outbox.close();
    expect(calls).toHaveLength(1);
  });
});
