import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ImageCache,
  type ImageCacheOptions,
  ImageChecksumError,
  ImageDownloadError,
  ImageTooLargeError,
} from "../../agent/src/host/images";
import { FakeClock } from "../support/fakes";

type Mode = {
  /** First N responses are cut after this many body bytes (socket destroyed). */
  dropAfterBytes?: number;
  drops?: number;
  /** Answer every request with the whole file (200), ignoring Range. */
  ignoreRange?: boolean;
  /** Status to answer instead of the file. */
  status?: number;
  /** Slow the body down so concurrent callers overlap the download. */
  delayMs?: number;
  /** Send the body this many bytes at a time, every `everyMs` (a server that trickles). */
  trickle?: { bytes: number; everyMs: number };
};

type Hit = { path: string; range: string | undefined; ifRange: string | undefined };

/** A loopback file server with Range support and switchable misbehaviour. */
class FileServer {
  readonly files = new Map<string, Buffer>();
  readonly hits: Hit[] = [];
  mode: Mode = {};
  #server: Server | undefined;
  #url = "";

  async start(): Promise<void> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://127.0.0.1:${port}`;
  }

  url(path: string): string {
    return `${this.#url}${path}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? "/";
    const range = req.headers.range;
    this.hits.push({ path, range, ifRange: req.headers["if-range"] as string | undefined });
    const file = this.files.get(path);
    if (this.mode.status !== undefined || !file) {
      res.writeHead(this.mode.status ?? 404).end();
      return;
    }
    const etag = `"${createHash("sha256").update(file).digest("hex").slice(0, 16)}"`;
    let start = 0;
    const match = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (match?.[1] !== undefined && !this.mode.ignoreRange) {
      start = Number(match[1]);
      if (start >= file.length) {
        res.writeHead(416, { "content-range": `bytes */${file.length}` }).end();
        return;
      }
      res.writeHead(206, {
        "content-length": file.length - start,
        "content-range": `bytes ${start}-${file.length - 1}/${file.length}`,
        etag,
      });
    } else {
      res.writeHead(200, { "content-length": file.length, "accept-ranges": "bytes", etag });
    }
    const body = file.subarray(start);
    const drops = this.mode.drops ?? 0;
    if (this.mode.dropAfterBytes !== undefined && drops > 0) {
      this.mode.drops = drops - 1;
      res.write(body.subarray(0, this.mode.dropAfterBytes), () => {
        // Cut the connection mid-body, like a server or proxy going away.
        setTimeout(() => res.destroy(), 20);
      });
      return;
    }
    const trickle = this.mode.trickle;
    if (trickle) {
      let sent = 0;
      const timer = setInterval(() => {
        res.write(body.subarray(sent, sent + trickle.bytes));
        sent += trickle.bytes;
        if (sent >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, trickle.everyMs);
      res.once("close", () => clearInterval(timer));
      return;
    }
    if (this.mode.delayMs) {
      const half = Math.floor(body.length / 2);
      res.write(body.subarray(0, half));
      setTimeout(() => res.end(body.subarray(half)), this.mode.delayMs);
      return;
    }
    res.end(body);
  }
}

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("image cache", () => {
  const server = new FileServer();
  const dirs: string[] = [];
  const caches: ImageCache[] = [];
  const clock = new FakeClock();
  const big = randomBytes(256 * 1024);
  const small = randomBytes(10 * 1024);

  beforeAll(async () => {
    await server.start();
    server.files.set("/big.img", big);
    server.files.set("/small.img", small);
  });
  afterEach(async () => {
    for (const cache of caches.splice(0)) await cache.close();
    server.hits.length = 0;
    server.mode = {};
  });
  afterAll(async () => {
    await server.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function openCache(options: Partial<ImageCacheOptions> = {}): Promise<ImageCache> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "strato-images-"));
    dirs.push(dir);
    const cache = await ImageCache.open({
      dir,
      maxBytes: 10 * 1024 * 1024,
      clock,
      retryDelayMs: 0,
      ...options,
    });
    caches.push(cache);
    return cache;
  }

  it("removes partial downloads abandoned for a day, and keeps recent ones to resume", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strato-images-"));
    mkdirSync(join(dir, "partial"), { recursive: true });
    const old = join(dir, "partial", "a".repeat(64));
    const recent = join(dir, "partial", "b".repeat(64));
    for (const path of [old, recent, `${old}.json`]) writeFileSync(path, "partial bytes");
    const at = (ms: number) => new Date(ms);
    utimesSync(old, at(clock.now() - 2 * 86_400_000), at(clock.now() - 2 * 86_400_000));
    utimesSync(`${old}.json`, at(clock.now() - 2 * 86_400_000), at(clock.now() - 2 * 86_400_000));
    utimesSync(recent, at(clock.now() - 3_600_000), at(clock.now() - 3_600_000));
    await openCache({ dir });
    expect(existsSync(old)).toBe(false);
    expect(existsSync(`${old}.json`)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });

  it("downloads into <cache>/sha256/<hex> and verifies the digest", async () => {
    const cache = await openCache();
    const image = await cache.ensure({ url: server.url("/big.img"), sha256: sha(big) });
    expect(image.path).toBe(join(cache.dir, "sha256", sha(big)));
    expect(image.sizeBytes).toBe(big.length);
    expect(readFileSync(image.path).equals(big)).toBe(true);
    // A second call is a cache hit.
    await cache.ensure({ url: server.url("/big.img"), sha256: sha(big).toUpperCase() });
    expect(server.hits).toHaveLength(1);
    expect(readdirSync(join(cache.dir, "partial"))).toEqual([]);
  });

  it("fetches again an image whose file vanished, keeping its pins", async () => {
    const cache = await openCache();
    const ref = { url: server.url("/small.img"), sha256: sha(small) };
    await cache.acquire(ref, "vm-9");
    rmSync(cache.pathOf(sha(small)));
    const image = await cache.ensure(ref);
    expect(readFileSync(image.path).equals(small)).toBe(true);
    expect(server.hits).toHaveLength(2);
    expect(cache.list()[0]?.holders).toEqual(["vm-9"]);
  });

  it("a checksum mismatch is a typed error and leaves nothing behind", async () => {
    const cache = await openCache();
    const wrong = sha(Buffer.from("something else"));
    const error = await cache
      .ensure({ url: server.url("/big.img"), sha256: wrong })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageChecksumError);
    expect(error).toMatchObject({ expected: wrong, actual: sha(big) });
    expect(readdirSync(join(cache.dir, "sha256"))).toEqual([]);
    expect(readdirSync(join(cache.dir, "partial"))).toEqual([]);
    expect(cache.has(wrong)).toBe(false);
  });

  it("resumes with Range after the server drops the connection mid-way", async () => {
    const cache = await openCache();
    server.mode = { dropAfterBytes: 100 * 1024, drops: 1 };
    const image = await cache.ensure({ url: server.url("/big.img"), sha256: sha(big) });
    expect(readFileSync(image.path).equals(big)).toBe(true);
    expect(server.hits).toHaveLength(2);
    expect(server.hits[0]?.range).toBeUndefined();
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(server.hits[1]?.range ?? "")?.[1]);
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(100 * 1024);
    // Only the same version of the file is resumed.
    expect(server.hits[1]?.ifRange).toMatch(/^"/);
  });

  it("cuts an attempt slower than the speed limit, resumes it with Range, and gives up in the end", async () => {
    const cache = await openCache({
      clock: { now: () => Date.now() },
      lowSpeed: { minBytes: 16 * 1024, windowMs: 200 },
      maxAttempts: 3,
    });
    server.mode = { trickle: { bytes: 256, everyMs: 20 } }; // about 12 KiB/s
    const error = await cache
      .ensure({ url: server.url("/big.img"), sha256: sha(big) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDownloadError);
    expect(String(error)).toMatch(/slower than 16384 bytes in 200 ms/);
    expect(server.hits).toHaveLength(3);
    const offsets = server.hits.map((h) => Number(/^bytes=(\d+)-$/.exec(h.range ?? "")?.[1] ?? 0));
    // What each attempt got is kept: the next one resumes after it.
    expect(offsets[0]).toBe(0);
    expect(offsets[1]).toBeGreaterThan(0);
    expect(offsets[2]).toBeGreaterThan(offsets[1] ?? 0);
    // A fast enough server then finishes the same partial file.
    server.mode = {};
    const image = await cache.ensure({ url: server.url("/big.img"), sha256: sha(big) });
    expect(readFileSync(image.path).equals(big)).toBe(true);
    expect(server.hits.at(-1)?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it("starts over when the server ignores Range", async () => {
    const cache = await openCache();
    server.mode = { dropAfterBytes: 100 * 1024, drops: 1, ignoreRange: true };
    const image = await cache.ensure({ url: server.url("/big.img"), sha256: sha(big) });
    expect(readFileSync(image.path).equals(big)).toBe(true);
    expect(server.hits).toHaveLength(2);
    expect(server.hits[1]?.range).toMatch(/^bytes=\d+-$/);
  });

  it("resumes a partial file left by an earlier process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strato-images-"));
    server.mode = { dropAfterBytes: 64 * 1024, drops: 10 };
    const first = await openCache({ dir, maxAttempts: 1 });
    await expect(
      first.ensure({ url: server.url("/big.img"), sha256: sha(big) }),
    ).rejects.toBeInstanceOf(ImageDownloadError);
    server.mode = {};
    const second = await openCache({ dir });
    const image = await second.ensure({ url: server.url("/big.img"), sha256: sha(big) });
    expect(readFileSync(image.path).equals(big)).toBe(true);
    expect(server.hits.at(-1)?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it("starts over once when a resumed download stitched two versions of the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strato-images-"));
    const v1 = randomBytes(128 * 1024);
    const v2 = randomBytes(128 * 1024);
    server.files.set("/moving.img", v1);
    server.mode = { dropAfterBytes: 64 * 1024, drops: 1 };
    const first = await openCache({ dir, maxAttempts: 1 });
    await expect(
      first.ensure({ url: server.url("/moving.img"), sha256: sha(v2) }),
    ).rejects.toThrow();
    // The file changes and this server does not honour If-Range: the resumed bytes are v2's tail.
    server.files.set("/moving.img", v2);
    const second = await openCache({ dir });
    const image = await second.ensure({ url: server.url("/moving.img"), sha256: sha(v2) });
    expect(readFileSync(image.path).equals(v2)).toBe(true);
    expect(server.hits.map((h) => h.range !== undefined)).toEqual([false, true, false]);
  });

  it("does not retry a 404", async () => {
    const cache = await openCache();
    const error = await cache
      .ensure({ url: server.url("/missing.img"), sha256: sha(big) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDownloadError);
    expect(error).toMatchObject({ status: 404 });
    expect(server.hits).toHaveLength(1);
  });

  it("stops a download that grows past the declared size", async () => {
    const cache = await openCache();
    const error = await cache
      .ensure({ url: server.url("/big.img"), sha256: sha(big), sizeBytes: 1000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect(readdirSync(join(cache.dir, "partial"))).toEqual([]);
  });

  it("concurrent waiters share one failure", async () => {
    const cache = await openCache();
    server.mode = { status: 403 };
    const ref = { url: server.url("/big.img"), sha256: sha(big) };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => cache.ensure(ref)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(server.hits).toHaveLength(1);
    // The next call tries again.
    server.mode = {};
    await cache.ensure(ref);
    expect(server.hits).toHaveLength(2);
  });

  it("serves 10 concurrent requests for one image with one download", async () => {
    const cache = await openCache();
    server.mode = { delayMs: 100 };
    const ref = { url: server.url("/big.img"), sha256: sha(big) };
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.ensure(ref)));
    expect(server.hits).toHaveLength(1);
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
  });

  it("evicts the least recently used image to stay under the size limit", async () => {
    const a = randomBytes(40 * 1024);
    const b = randomBytes(40 * 1024);
    const c = randomBytes(40 * 1024);
    for (const [name, data] of [
      ["/a", a],
      ["/b", b],
      ["/c", c],
    ] as const) {
      server.files.set(name, data);
    }
    const cache = await openCache({ maxBytes: 100 * 1024 });
    await cache.ensure({ url: server.url("/a"), sha256: sha(a) });
    clock.advance(1000);
    await cache.ensure({ url: server.url("/b"), sha256: sha(b) });
    clock.advance(1000);
    // Using `a` again makes `b` the least recently used.
    await cache.ensure({ url: server.url("/a"), sha256: sha(a) });
    clock.advance(1000);
    await cache.ensure({ url: server.url("/c"), sha256: sha(c) });
    expect(cache.has(sha(a))).toBe(true);
    expect(cache.has(sha(b))).toBe(false);
    expect(cache.has(sha(c))).toBe(true);
    expect(existsSync(cache.pathOf(sha(b)))).toBe(false);
    expect(cache.totalBytes()).toBeLessThanOrEqual(100 * 1024);

    // The access times survive a restart (index file).
    const reopened = await openCache({ dir: cache.dir, maxBytes: 100 * 1024 });
    const byDigest = new Map(reopened.list().map((e) => [e.sha256, e.lastUsedAt]));
    expect(byDigest.get(sha(c))).toBeGreaterThan(byDigest.get(sha(a)) ?? Number.POSITIVE_INFINITY);
  });

  it("never evicts a pinned image, even when it is the oldest", async () => {
    const a = randomBytes(40 * 1024);
    const b = randomBytes(40 * 1024);
    const c = randomBytes(40 * 1024);
    for (const [name, data] of [
      ["/pa", a],
      ["/pb", b],
      ["/pc", c],
    ] as const) {
      server.files.set(name, data);
    }
    const cache = await openCache({ maxBytes: 100 * 1024 });
    await cache.acquire({ url: server.url("/pa"), sha256: sha(a) }, "vm-1");
    clock.advance(1000);
    await cache.ensure({ url: server.url("/pb"), sha256: sha(b) });
    clock.advance(1000);
    await cache.ensure({ url: server.url("/pc"), sha256: sha(c) });
    expect(cache.has(sha(a))).toBe(true);
    expect(cache.has(sha(b))).toBe(false);
    expect(cache.list().find((e) => e.sha256 === sha(a))?.holders).toEqual(["vm-1"]);

    // Pins are persistent: a restarted agent still keeps the image.
    const reopened = await openCache({ dir: cache.dir, maxBytes: 10 * 1024 });
    await reopened.evict();
    expect(reopened.has(sha(a))).toBe(true);
    expect(reopened.has(sha(c))).toBe(false);

    // Once the VM is gone, the image may go.
    await reopened.releaseHolder("vm-1");
    expect(reopened.has(sha(a))).toBe(false);
  });
});
