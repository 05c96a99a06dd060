import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConsoleLog } from "../../agent/src/host/console-log";

/** Writes like Cloud Hypervisor's serial `File` mode: `File::create`, no O_APPEND, own offset. */
class FakeVmmSerial {
  readonly #fd: number;
  constructor(path: string) {
    this.#fd = openSync(path, "w");
  }
  write(text: string): void {
    writeSync(this.#fd, text);
  }
  close(): void {
    closeSync(this.#fd);
  }
}

describe("serial console log", () => {
  const root = mkdtempSync(join(tmpdir(), "strato-console-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("a look right after a rotation, before the VMM writes again, does not lose the base", async () => {
    const path = join(root, "quiet", "serial.log");
    mkdirSync(join(root, "quiet"));
    const log = new ConsoleLog({ path, maxBytes: 100, keep: 1 });
    const vmm = new FakeVmmSerial(path);
    vmm.write("b".repeat(150));
    expect(await log.maybeRotate()).toBe(true);
    // Nothing new yet: the live file is empty (CH writes on at offset 150, not from 0).
    expect((await log.tail(10)).data.toString()).toBe("b".repeat(10));
    expect(await log.maybeRotate()).toBe(false);
    vmm.write("abc");
    expect((await log.tail(3)).data.toString()).toBe("abc");
    // Three new bytes are not a full log: the hole before them is not counted.
    expect(await log.maybeRotate()).toBe(false);
    vmm.write("c".repeat(120));
    expect(await log.maybeRotate()).toBe(true);
    expect(readFileSync(`${path}.1`, "utf8")).toBe(`abc${"c".repeat(120)}`);
    vmm.close();
  });

  it("a rotation that comes late keeps the newest twice the cap, not the whole backlog", async () => {
    const path = join(root, "late", "serial.log");
    mkdirSync(join(root, "late"));
    const log = new ConsoleLog({ path, maxBytes: 100, keep: 1 });
    const vmm = new FakeVmmSerial(path);
    vmm.write(`${"o".repeat(1_000)}${"n".repeat(200)}`);
    expect(await log.maybeRotate()).toBe(true);
    expect(readFileSync(`${path}.1`, "utf8")).toBe("n".repeat(200));
    vmm.close();
  });

  it("rotates at the cap, keeps N files, and tails across the rotation boundary", async () => {
    const path = join(root, "a", "serial.log");
    mkdirSync(join(root, "a"));
    const log = new ConsoleLog({ path, maxBytes: 100, keep: 2 });
    expect(await log.tail(10)).toEqual({ data: Buffer.alloc(0), truncated: false });

    const vmm = new FakeVmmSerial(path);
    vmm.write("x".repeat(60));
    expect(await log.maybeRotate()).toBe(false);
    vmm.write(`${"y".repeat(58)}\n`);
    expect(await log.maybeRotate()).toBe(true);
    expect(readFileSync(`${path}.1`, "utf8")).toBe(`${"x".repeat(60)}${"y".repeat(58)}\n`);

    // CH keeps its offset: the next write lands after a hole, which reads skip.
    vmm.write("login: ");
    expect((await log.tail(7)).data.toString()).toBe("login: ");
    const across = await log.tail(12);
    expect(across.data.toString()).toBe("yyyy\nlogin: ");
    expect(across.truncated).toBe(true);
    const all = await log.tail(10_000);
    expect(all.data.toString()).toBe(`${"x".repeat(60)}${"y".repeat(58)}\nlogin: `);
    expect(all.truncated).toBe(false);

    // Two more rotations: only `keep` rotated files remain, newest first.
    vmm.write("z".repeat(100));
    expect(await log.maybeRotate()).toBe(true);
    vmm.write("w".repeat(100));
    expect(await log.maybeRotate()).toBe(true);
    expect(readFileSync(`${path}.1`, "utf8")).toBe("w".repeat(100));
    expect(readFileSync(`${path}.2`, "utf8")).toBe(`login: ${"z".repeat(100)}`);
    expect(existsSync(`${path}.3`)).toBe(false);
    vmm.write("tail");
    const capped = await log.tail(1_000);
    expect(capped.data.toString()).toBe(`login: ${"z".repeat(100)}${"w".repeat(100)}tail`);

    // A new ConsoleLog (agent restart) picks up where live content starts.
    expect((await new ConsoleLog({ path, maxBytes: 100, keep: 2 }).tail(4)).data.toString()).toBe(
      "tail",
    );
    vmm.close();
  });

  it("archives the output before a new VMM recreates the file", async () => {
    const path = join(root, "b.log");
    const log = new ConsoleLog({ path, maxBytes: 1000, keep: 3 });
    const first = new FakeVmmSerial(path);
    first.write("first boot\n");
    first.close();
    await log.archiveForRestart();
    const second = new FakeVmmSerial(path);
    second.write("second boot\n");
    expect((await log.tail(100)).data.toString()).toBe("first boot\nsecond boot\n");
    second.close();

    await log.remove();
    expect(existsSync(path) || existsSync(`${path}.1`)).toBe(false);
  });
});
