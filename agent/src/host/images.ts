import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  statfs,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { Agent, type Dispatcher, errors, interceptors, request } from "undici";
import { writeFileDurably } from "./durable-file";

/** What the control plane names: where to fetch an image and the digest it must have. */
export type ImageRef = {
  url: string;
  /** Lowercase or uppercase hex sha256 of the whole file. */
  sha256: string;
  /** When known, a download growing past it is stopped early. */
  sizeBytes?: number;
};

export type CachedImage = { sha256: string; path: string; sizeBytes: number };

export type ImageCacheEntry = {
  sha256: string;
  sizeBytes: number;
  lastUsedAt: number;
  /** Persistent pins (e.g. VM ids whose disks are overlays on this image). */
  holders: string[];
};

export class ImageError extends Error {
  override name = "ImageError";
}

/** The downloaded bytes do not hash to the expected digest; nothing was kept. */
export class ImageChecksumError extends ImageError {
  override name = "ImageChecksumError";
  constructor(
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`image ${url}: sha256 mismatch (expected ${expected}, got ${actual})`);
  }
}

/** The download failed: a non-retryable HTTP status, or retries ran out. */
export class ImageDownloadError extends ImageError {
  override name = "ImageDownloadError";
  constructor(
    readonly url: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`image ${url}: ${message}`, options);
  }
}

/** The server sent more bytes than the image's declared size. */
export class ImageTooLargeError extends ImageError {
  override name = "ImageTooLargeError";
}

/** Not enough free space in the cache's file system for the image. */
export class ImageNoSpaceError extends ImageError {
  override name = "ImageNoSpaceError";
}

export type ImageCacheOptions = {
  /** Cache root: `<dir>/sha256/<hex>`, partial downloads in `<dir>/partial/`, `<dir>/index.json`. */
  dir: string;
  /** Eviction target. Pinned and in-use images are never evicted, so the cache may exceed it. */
  maxBytes: number;
  clock: { now(): number };
  /** undici dispatcher (tests, proxies); default: an Agent following up to 5 redirects. */
  dispatcher?: Dispatcher;
  /** Attempts per download, each resuming the partial file (default 5). */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt up to 30 s (default 1 s). */
  retryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  headersTimeoutMs?: number;
  /** Longest silence while the body streams (default 60 s). */
  bodyTimeoutMs?: number;
  /**
   * Slowest transfer an attempt keeps: fewer than `minBytes` in `windowMs` cuts it, and the next
   * attempt resumes the partial file (default: 64 KiB per 60 s, as curl's speed limit).
   */
  lowSpeed?: { minBytes: number; windowMs: number };
};

const LOW_SPEED = { minBytes: 64 * 1024, windowMs: 60_000 };

type IndexFile = { version: 1; entries: Record<string, Omit<ImageCacheEntry, "sha256">> };

type PartialMeta = { url: string; etag?: string; lastModified?: string };

const HEX64 = /^[0-9a-f]{64}$/;
const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN"]);

class RetryableError extends Error {}

/** A partial download untouched this long is taken as abandoned (see `#dropStalePartials`). */
const STALE_PARTIAL_MS = 24 * 3_600_000;

/**
 * Content-addressed image cache: downloads verified by sha256 while streaming, resumed with HTTP
 * Range, deduplicated per digest, evicted least-recently-used down to a size limit. One agent
 * process owns a cache directory.
 */
export class ImageCache {
  readonly dir: string;
  readonly #options: ImageCacheOptions;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #entries = new Map<string, Omit<ImageCacheEntry, "sha256">>();
  readonly #inflight = new Map<string, Promise<CachedImage>>();
  /** Transient pins: images between download and their caller's persistent pin. */
  readonly #leases = new Map<string, number>();
  readonly #removals = new Map<string, Promise<void>>();
  #saving: Promise<void> = Promise.resolve();

  private constructor(options: ImageCacheOptions) {
    this.dir = options.dir;
    this.#options = options;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({ connect: { timeout: 30_000 } }).compose(
        interceptors.redirect({ maxRedirections: 5 }),
      );
  }

  /** Opens (creating) the cache and reconciles the index with the files actually present. */
  static async open(options: ImageCacheOptions): Promise<ImageCache> {
    const cache = new ImageCache(options);
    await mkdir(join(options.dir, "sha256"), { recursive: true });
    await mkdir(join(options.dir, "partial"), { recursive: true });
    await cache.#load();
    await cache.#dropStalePartials();
    return cache;
  }

  /** Where an image with this digest lives (whether or not it is cached). */
  pathOf(sha256: string): string {
    return join(this.dir, "sha256", normalizeDigest(sha256));
  }

  has(sha256: string): boolean {
    return this.#entries.has(normalizeDigest(sha256));
  }

  /**
   * The image in the cache, downloaded first if needed. Concurrent calls for one digest share one
   * download. Not pinned: use `acquire` when the image must stay (a disk is built on it).
   */
  async ensure(ref: ImageRef): Promise<CachedImage> {
    const sha = normalizeDigest(ref.sha256);
    this.#lease(sha);
    try {
      return await this.#ensure(sha, ref);
    } finally {
      this.#unlease(sha);
    }
  }

  /** `ensure` plus a persistent pin for `holder` (idempotent per holder). */
  async acquire(ref: ImageRef, holder: string): Promise<CachedImage> {
    const sha = normalizeDigest(ref.sha256);
    this.#lease(sha);
    try {
      const image = await this.#ensure(sha, ref);
      const entry = this.#entries.get(sha);
      if (entry && !entry.holders.includes(holder)) {
        entry.holders.push(holder);
        await this.#save();
      }
      return image;
    } finally {
      this.#unlease(sha);
    }
  }

  /** Drops `holder`'s pin on one image (no-op if absent), then evicts down to the limit. */
  async release(sha256: string, holder: string): Promise<void> {
    const entry = this.#entries.get(normalizeDigest(sha256));
    if (!entry?.holders.includes(holder)) return;
    entry.holders = entry.holders.filter((h) => h !== holder);
    await this.#save();
    await this.evict();
  }

  /** Drops every pin `holder` has (a VM was deleted), then evicts down to the limit. */
  async releaseHolder(holder: string): Promise<void> {
    let changed = false;
    for (const entry of this.#entries.values()) {
      if (!entry.holders.includes(holder)) continue;
      entry.holders = entry.holders.filter((h) => h !== holder);
      changed = true;
    }
    if (!changed) return;
    await this.#save();
    await this.evict();
  }

  list(): ImageCacheEntry[] {
    return [...this.#entries].map(([sha256, e]) => ({ sha256, ...e, holders: [...e.holders] }));
  }

  totalBytes(): number {
    let total = 0;
    for (const e of this.#entries.values()) total += e.sizeBytes;
    return total;
  }

  /**
   * Removes least-recently-used images until the cache fits `maxBytes`, skipping pinned images,
   * images being downloaded or in use, and `keep`. Returns the evicted digests.
   */
  async evict(keep: readonly string[] = []): Promise<string[]> {
    await this.#dropStalePartials();
    const candidates = [...this.#entries]
      .filter(([sha, e]) => e.holders.length === 0 && !this.#leases.has(sha) && !keep.includes(sha))
      .sort(([, a], [, b]) => a.lastUsedAt - b.lastUsedAt);
    let total = this.totalBytes();
    const evicted: string[] = [];
    for (const [sha, entry] of candidates) {
      if (total <= this.#options.maxBytes) break;
      this.#entries.delete(sha);
      total -= entry.sizeBytes;
      evicted.push(sha);
      const removal = rm(this.pathOf(sha), { force: true }).finally(() =>
        this.#removals.delete(sha),
      );
      this.#removals.set(sha, removal);
    }
    if (evicted.length === 0) return evicted;
    await Promise.all(evicted.map((sha) => this.#removals.get(sha)));
    await this.#save();
    return evicted;
  }

  /** Waits for pending index writes; closes the HTTP agent if the cache created it. */
  async close(): Promise<void> {
    await this.#saving;
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #ensure(sha: string, ref: ImageRef): Promise<CachedImage> {
    const entry = this.#entries.get(sha);
    // A file removed behind the cache's back is fetched again (keeping its pins), not handed out.
    if (entry && (await isFile(this.pathOf(sha)))) {
      entry.lastUsedAt = this.#options.clock.now();
      await this.#save();
      return { sha256: sha, path: this.pathOf(sha), sizeBytes: entry.sizeBytes };
    }
    let pending = this.#inflight.get(sha);
    if (!pending) {
      pending = this.#fetchAndAdd(sha, ref).finally(() => this.#inflight.delete(sha));
      this.#inflight.set(sha, pending);
    }
    return pending;
  }

  async #fetchAndAdd(sha: string, ref: ImageRef): Promise<CachedImage> {
    await this.#removals.get(sha);
    const sizeBytes = await this.#download(sha, ref);
    const holders = this.#entries.get(sha)?.holders ?? [];
    this.#entries.set(sha, { sizeBytes, lastUsedAt: this.#options.clock.now(), holders });
    await this.#save();
    await this.evict([sha]);
    return { sha256: sha, path: this.pathOf(sha), sizeBytes };
  }

  /** Downloads into the partial file with retries; returns the verified size once in place. */
  async #download(sha: string, ref: ImageRef): Promise<number> {
    const maxAttempts = this.#options.maxAttempts ?? 5;
    const sleep = this.#options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    let freshRetryLeft = true;
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      try {
        const outcome = await this.#attempt(sha, ref);
        if (outcome.kind === "done") return outcome.sizeBytes;
        // A resumed download may have stitched two versions of the file: one clean retry.
        if (freshRetryLeft) {
          freshRetryLeft = false;
          attempt--;
          continue;
        }
        throw new ImageChecksumError(ref.url, sha, outcome.actual);
      } catch (error) {
        if (!(error instanceof RetryableError) && !isNetworkError(error)) throw error;
        lastError = error;
        if (attempt < maxAttempts) {
          const base = this.#options.retryDelayMs ?? 1000;
          await sleep(Math.min(base * 2 ** (attempt - 1), 30_000));
        }
      }
    }
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    throw new ImageDownloadError(
      ref.url,
      `failed after ${maxAttempts} attempts: ${why}`,
      undefined,
      {
        cause: lastError,
      },
    );
  }

  async #attempt(
    sha: string,
    ref: ImageRef,
  ): Promise<
    { kind: "done"; sizeBytes: number } | { kind: "mismatch-after-resume"; actual: string }
  > {
    const partial = join(this.dir, "partial", sha);
    const metaPath = `${partial}.json`;
    let offset = await fileSize(partial);
    let meta = offset > 0 ? await readMeta(metaPath) : undefined;
    if (
      offset > 0 &&
      (meta?.url !== ref.url || (ref.sizeBytes !== undefined && offset > ref.sizeBytes))
    ) {
      offset = 0;
      meta = undefined;
    }

    const headers: Record<string, string> = {};
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      // Only resume the same version of the file; a changed one comes back whole (200).
      const validator = meta?.etag && !meta.etag.startsWith("W/") ? meta.etag : meta?.lastModified;
      if (validator) headers["if-range"] = validator;
    }
    const response = await request(ref.url, {
      method: "GET",
      headers,
      dispatcher: this.#dispatcher,
      headersTimeout: this.#options.headersTimeoutMs ?? 30_000,
      bodyTimeout: this.#options.bodyTimeoutMs ?? 60_000,
    });
    const { statusCode } = response;

    if (statusCode === 416 && offset > 0) {
      await response.body.dump();
      await rm(partial, { force: true });
      throw new RetryableError("range not satisfiable; restarting");
    }
    if (statusCode === 206) {
      const start = contentRangeStart(header(response.headers, "content-range"));
      if (start !== offset) {
        await response.body.dump();
        await rm(partial, { force: true });
        throw new RetryableError(`unexpected Content-Range (wanted offset ${offset})`);
      }
    } else if (statusCode === 200) {
      // The server ignored the Range (or the file changed): start over.
      offset = 0;
      const etag = header(response.headers, "etag");
      const lastModified = header(response.headers, "last-modified");
      meta = { url: ref.url, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
      await writeFile(metaPath, JSON.stringify(meta));
    } else {
      await response.body.dump();
      const retryable = statusCode >= 500 || statusCode === 408 || statusCode === 429;
      if (retryable) throw new RetryableError(`HTTP ${statusCode}`);
      throw new ImageDownloadError(ref.url, `HTTP ${statusCode}`, statusCode);
    }

    const length = Number(header(response.headers, "content-length") ?? Number.NaN);
    if (Number.isFinite(length)) await this.#checkSpace(ref, length);

    const hash = createHash("sha256");
    if (offset > 0)
      for await (const chunk of createReadStream(partial, { end: offset - 1 })) hash.update(chunk);
    let written = offset;
    // A server that trickles bytes never trips bodyTimeout; without this it holds the download,
    // and every create waiting for its image, for as long as it trickles.
    const { minBytes, windowMs } = this.#options.lowSpeed ?? LOW_SPEED;
    const clock = this.#options.clock;
    let window = { startedAt: clock.now(), bytes: 0 };
    const file = await open(partial, offset === 0 ? "w" : "a");
    try {
      for await (const chunk of response.body) {
        const bytes = chunk as Buffer;
        written += bytes.length;
        if (ref.sizeBytes !== undefined && written > ref.sizeBytes) {
          response.body.destroy();
          throw new ImageTooLargeError(
            `image ${ref.url}: larger than its declared ${ref.sizeBytes} bytes`,
          );
        }
        hash.update(bytes);
        await file.write(bytes);
        // Checked once the chunk is kept, so every attempt leaves more for the next to resume.
        window.bytes += bytes.length;
        if (clock.now() - window.startedAt >= windowMs) {
          if (window.bytes < minBytes) {
            response.body.destroy();
            throw new RetryableError(`slower than ${minBytes} bytes in ${windowMs} ms`);
          }
          window = { startedAt: clock.now(), bytes: 0 };
        }
      }
      await file.sync();
    } catch (error) {
      if (error instanceof ImageTooLargeError) await removePartial(partial);
      if (isNoSpace(error)) {
        await removePartial(partial);
        throw new ImageNoSpaceError(`image ${ref.url}: no space left in ${this.dir}`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      await file.close();
    }

    const actual = hash.digest("hex");
    if (actual !== sha) {
      await removePartial(partial);
      if (offset > 0) return { kind: "mismatch-after-resume", actual };
      throw new ImageChecksumError(ref.url, sha, actual);
    }
    await rename(partial, this.pathOf(sha));
    await rm(metaPath, { force: true });
    return { kind: "done", sizeBytes: written };
  }

  async #checkSpace(ref: ImageRef, remaining: number): Promise<void> {
    const fs = await statfs(this.dir);
    const free = fs.bavail * fs.bsize;
    if (remaining > free) {
      throw new ImageNoSpaceError(
        `image ${ref.url}: needs ${remaining} bytes, ${free} free in ${this.dir}`,
      );
    }
  }

  #lease(sha: string): void {
    this.#leases.set(sha, (this.#leases.get(sha) ?? 0) + 1);
  }

  #unlease(sha: string): void {
    const n = (this.#leases.get(sha) ?? 1) - 1;
    if (n <= 0) this.#leases.delete(sha);
    else this.#leases.set(sha, n);
  }

  async #load(): Promise<void> {
    let index: IndexFile | undefined;
    try {
      const parsed: unknown = JSON.parse(await readFile(this.#indexPath(), "utf8"));
      if (isIndexFile(parsed)) index = parsed;
    } catch {
      // Missing or unreadable: rebuilt from the files below.
    }
    const present = new Map<string, { size: number; mtimeMs: number }>();
    for (const name of await readdir(join(this.dir, "sha256"))) {
      const path = join(this.dir, "sha256", name);
      if (!HEX64.test(name)) {
        await rm(path, { force: true, recursive: true });
        continue;
      }
      const s = await stat(path);
      present.set(name, { size: s.size, mtimeMs: s.mtimeMs });
    }
    // Files are renamed into place only after verification, so any present file is trusted.
    for (const [sha, file] of present) {
      const known = index?.entries[sha];
      const holders = Array.isArray(known?.holders) ? known.holders : [];
      this.#entries.set(sha, {
        sizeBytes: file.size,
        lastUsedAt: typeof known?.lastUsedAt === "number" ? known.lastUsedAt : file.mtimeMs,
        holders: holders.filter((h): h is string => typeof h === "string"),
      });
    }
    await this.#save();
  }

  /**
   * Removes partial downloads untouched for a day (their image abandoned: the VM deleted, another
   * image chosen), unless they are being downloaded. They are kept that long to be resumed.
   */
  async #dropStalePartials(): Promise<void> {
    const dir = join(this.dir, "partial");
    const now = this.#options.clock.now();
    for (const name of await readdir(dir)) {
      if (this.#inflight.has(name.replace(/\.json$/, ""))) continue;
      const path = join(dir, name);
      const modified = (await stat(path).catch(() => undefined))?.mtimeMs;
      if (modified !== undefined && now - modified > STALE_PARTIAL_MS) {
        await rm(path, { force: true, recursive: true });
      }
    }
  }

  #indexPath(): string {
    return join(this.dir, "index.json");
  }

  /**
   * Writes the index atomically and durably (its pins keep overlays' bases from eviction); writes
   * are chained so the last snapshot wins.
   */
  #save(): Promise<void> {
    const next = this.#saving.then(async () => {
      const index: IndexFile = { version: 1, entries: Object.fromEntries(this.#entries) };
      await writeFileDurably(this.#indexPath(), JSON.stringify(index), 0o644);
    });
    this.#saving = next.catch(() => {});
    return next;
  }
}

function normalizeDigest(sha256: string): string {
  const sha = sha256.toLowerCase();
  if (!HEX64.test(sha)) throw new ImageError(`not a sha256 hex digest: ${JSON.stringify(sha256)}`);
  return sha;
}

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentRangeStart(value: string | undefined): number | undefined {
  const match = value ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value.trim()) : null;
  return match?.[1] !== undefined ? Number(match[1]) : undefined;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function readMeta(path: string): Promise<PartialMeta | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(path, "utf8"));
    if (
      typeof value === "object" &&
      value !== null &&
      "url" in value &&
      typeof value.url === "string"
    ) {
      return value as PartialMeta;
    }
  } catch {
    // No usable metadata: the partial is not resumed.
  }
  return undefined;
}

async function removePartial(partial: string): Promise<void> {
  await rm(partial, { force: true });
  await rm(`${partial}.json`, { force: true });
}

function isNetworkError(error: unknown): boolean {
  if (error instanceof errors.UndiciError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && NETWORK_CODES.has(code);
}

function isNoSpace(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ENOSPC";
}

function isIndexFile(value: unknown): value is IndexFile {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { version?: unknown }).version === 1 &&
    typeof (value as { entries?: unknown }).entries === "object" &&
    (value as { entries?: unknown }).entries !== null
  );
}
