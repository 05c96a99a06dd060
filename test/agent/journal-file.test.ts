import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileJournal } from "../../agent/src/journal-file";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function path(): string {
  const dir = mkdtempSync(join(tmpdir(), "strato-journal-"));
  dirs.push(dir);
  return join(dir, "journal.db");
}

const entry = {
  idem: "op_1:prep",
  itemId: "wi_1",
  seq: 3,
  op: "host.noop",
  leaseEpoch: 1,
  attempt: 1,
  resourceUid: "uid-1",
  gen: 2,
  token: "a.b.c",
};

describe("on-disk journal", () => {
  it("survives a reopen: jtis, accepted → running → done(result), generations, unsent results", async () => {
    const file = path();
    const clock = { now: () => 1_767_225_600_000 };
    let j = new FileJournal(file, clock.now);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await j.remember("jti-1", 1_767_225_900)).toBe(true);
    expect(await j.remember("jti-1", 1_767_225_900)).toBe(false);
    j.accept(entry);
    j.running(entry.idem);
    expect(j.pending().map((e) => e.state)).toEqual(["running"]);
    j.close();

    j = new FileJournal(file, clock.now);
    expect(await j.has("jti-1")).toBe(true);
    expect(await j.isDone(entry.idem)).toBe(false);
    j.done(entry.idem, { outcome: "succeeded", lease_epoch: 1, attempt: 1 });
    expect(await j.isDone(entry.idem)).toBe(true);
    expect(await j.isFinished("wi_1")).toBe(true);
    expect(await j.appliedGeneration("uid-1")).toBe(2);
    expect(j.pending()).toMatchObject([{ state: "done", resultSent: false }]);
    // A re-delivery under a new lease keeps the result but re-binds the epoch.
    j.rebind(entry.idem, 4, 2);
    expect(j.entry(entry.idem)).toMatchObject({
      leaseEpoch: 4,
      attempt: 2,
      result: { outcome: "succeeded" },
    });
    // accept() never reopens a done entry.
    j.accept({ ...entry, leaseEpoch: 9 });
    expect(j.entry(entry.idem)?.state).toBe("done");
    j.resultSent(entry.idem);
    expect(j.pending()).toEqual([]);
    j.setValue("trust", '{"version":2}');
    j.close();

    j = new FileJournal(file, clock.now);
    expect(j.getValue("trust")).toBe('{"version":2}');
    j.close();
  });

  it("forgets jtis a minute after they expire", async () => {
    let now = 1_000_000_000;
    const j = new FileJournal(path(), () => now);
    await j.remember("old", 1_000_000);
    now += 2_000_000;
    await j.remember("new", 3_000_000);
    expect(await j.has("old")).toBe(false);
    expect(await j.has("new")).toBe(true);
    j.close();
  });
});
