import { open, readFile, rename, rm, stat, truncate, writeFile } from "node:fs/promises";

export type ConsoleLogOptions = {
  /** The file Cloud Hypervisor writes serial output to (`serial: {mode: "File", file}`). */
  path: string;
  /** Rotate once the live file holds this many bytes. */
  maxBytes: number;
  /** Rotated files kept: `<path>.1` (newest) … `<path>.<keep>`. */
  keep: number;
};

export type ConsoleTail = {
  data: Buffer;
  /** Older output exists beyond what was returned. */
  truncated: boolean;
};

/**
 * A VM's serial console log, size-capped and rotated in place.
 *
 * CH opens the file with `File::create` (no `O_APPEND`) and keeps writing at its own offset, so a
 * rename would only hide the file and a truncation leaves a hole before the next write. Rotation
 * therefore copies the content out, truncates, and records where live content restarts (the
 * "base" offset, in `<path>.state.json`); the hole costs no disk space and reads skip it.
 */
export class ConsoleLog {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #base: number | undefined;

  constructor(options: ConsoleLogOptions) {
    if (options.maxBytes <= 0 || !Number.isInteger(options.keep) || options.keep < 0) {
      throw new RangeError("console log needs maxBytes > 0 and an integer keep >= 0");
    }
    this.path = options.path;
    this.#maxBytes = options.maxBytes;
    this.#keep = options.keep;
  }

  /** Rotates if the live file reached the cap; the agent calls it at each status report. */
  async maybeRotate(): Promise<boolean> {
    const live = await this.#liveRange();
    if (live === undefined || live.end - live.start < this.#maxBytes) return false;
    await this.rotate();
    return true;
  }

  /** Moves the live content to `<path>.1` (shifting older files) and empties the live file. */
  async rotate(): Promise<void> {
    const live = await this.#liveRange();
    if (live === undefined) return;
    // At most twice the cap is kept (a rotation that came late), so this read stays bounded.
    const from = Math.max(live.start, live.end - 2 * this.#maxBytes);
    const content = stripLeadingNuls(await readRange(this.path, from, live.end));
    // Truncate right after reading: bytes CH writes in between are the only ones lost.
    await truncate(this.path, 0);
    await this.#setBase(live.end);
    if (this.#keep === 0 || content.length === 0) return;
    await rm(this.#rotated(this.#keep), { force: true });
    for (let n = this.#keep - 1; n >= 1; n--) {
      await rename(this.#rotated(n), this.#rotated(n + 1)).catch(ignoreMissing);
    }
    const tmp = `${this.#rotated(1)}.tmp`;
    await writeFile(tmp, content);
    await rename(tmp, this.#rotated(1));
  }

  /**
   * Call before a new VMM starts for this VM: CH's `File::create` truncates the file and writes
   * from offset 0, so the current output is rotated out and the base reset.
   */
  async archiveForRestart(): Promise<void> {
    await this.rotate();
    await rm(this.path, { force: true });
    await this.#setBase(0);
  }

  /** The last `bytes` of console output, across rotated files. */
  async tail(bytes: number): Promise<ConsoleTail> {
    const parts: Buffer[] = [];
    let collected = 0;
    const live = await this.#liveRange();
    if (live !== undefined) {
      const start = Math.max(live.start, live.end - bytes);
      const data = await readRange(this.path, start, live.end);
      const chunk = start === live.start ? stripLeadingNuls(data) : data;
      parts.unshift(chunk);
      collected += chunk.length;
    }
    let truncated = live !== undefined && live.end - live.start > bytes;
    for (let n = 1; n <= this.#keep && collected < bytes; n++) {
      let size: number;
      try {
        size = (await stat(this.#rotated(n))).size;
      } catch (error) {
        if (isMissing(error)) break;
        throw error;
      }
      // Only the end that is wanted, not the whole rotated file.
      const need = bytes - collected;
      const chunk = await readRange(this.#rotated(n), Math.max(0, size - need), size);
      parts.unshift(chunk);
      collected += chunk.length;
      truncated = size > need || (await exists(this.#rotated(n + 1)));
    }
    return { data: Buffer.concat(parts), truncated };
  }

  /** Deletes the live file, the rotated files and the state (VM deleted). */
  async remove(): Promise<void> {
    await rm(this.path, { force: true });
    await rm(this.#statePath(), { force: true });
    for (let n = 1; n <= this.#keep; n++) await rm(this.#rotated(n), { force: true });
    this.#base = 0;
  }

  #rotated(n: number): string {
    return `${this.path}.${n}`;
  }

  #statePath(): string {
    return `${this.path}.state.json`;
  }

  /** Live content's byte range, or undefined when CH has not created the file. */
  async #liveRange(): Promise<{ start: number; end: number } | undefined> {
    let size: number;
    try {
      size = (await stat(this.path)).size;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const base = await this.#getBase();
    // Smaller than the base: just rotated, and CH has not written past its old offset yet (it
    // keeps writing there, not from 0). A new VMM, which writes from 0, comes after
    // `archiveForRestart`, which sets the base to 0 itself.
    if (size < base) return { start: size, end: size };
    return { start: base, end: size };
  }

  async #getBase(): Promise<number> {
    if (this.#base !== undefined) return this.#base;
    try {
      const state: unknown = JSON.parse(await readFile(this.#statePath(), "utf8"));
      const base = (state as { base?: unknown } | null)?.base;
      this.#base = typeof base === "number" && base >= 0 ? base : 0;
    } catch {
      this.#base = 0;
    }
    return this.#base;
  }

  async #setBase(base: number): Promise<void> {
    this.#base = base;
    const tmp = `${this.#statePath()}.tmp`;
    await writeFile(tmp, JSON.stringify({ base }));
    await rename(tmp, this.#statePath());
  }
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(end - start);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** The hole left by a truncation while CH kept its offset reads as NUL bytes. */
function stripLeadingNuls(data: Buffer): Buffer {
  let i = 0;
  while (i < data.length && data[i] === 0) i++;
  return data.subarray(i);
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ENOENT";
}

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
