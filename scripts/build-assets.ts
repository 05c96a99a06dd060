/**
 * Builds everything the browser loads, so every page loads it from our own origin (no CDN):
 *
 * - copies third-party browser assets from node_modules into public/static/vendor (gitignored);
 * - compiles templates/styles.css with Tailwind v3 (classes used in templates/ and src/) into
 *   public/static/build/app.<contenthash>.css, removing older builds;
 * - writes templates/assets.gen.ts (gitignored) with the URLs pages link to, so the Worker bundle
 *   knows the hashed name without a file system.
 *
 * Run by `npm ci`/`npm install` (prepare), `npm run dev`, `npm start`, tests and deploys;
 * `npm run build:assets -- --watch` keeps rebuilding while you edit templates.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  watch,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Some packages (@simplewebauthn/browser) do not export package.json, so locate them directly.
const packageDir = (name: string) => join(root, "node_modules", name);

const VENDOR: { from: string; files: string[]; to: string }[] = [
  {
    from: packageDir("swagger-ui-dist"),
    files: ["swagger-ui-bundle.js", "swagger-ui.css"],
    to: "swagger-ui",
  },
  { from: join(packageDir("htmx.org"), "dist"), files: ["htmx.min.js"], to: "htmx" },
  // htmx 4's SSE extension: live console views (src/web/live) stream their fragments with it.
  { from: join(packageDir("htmx.org"), "dist/ext"), files: ["hx-sse.min.js"], to: "htmx" },
  {
    from: join(packageDir("@simplewebauthn/browser"), "dist/bundle"),
    files: ["index.umd.min.js"],
    to: "simplewebauthn",
  },
];

const BUILD_DIR = join(root, "public/static/build");
const MANIFEST = join(root, "templates/assets.gen.ts");
const HASHED_CSS = /^app\.[0-9a-f]{16}\.css$/;

const shortHash = (data: string | Buffer) =>
  createHash("sha256").update(data).digest("hex").slice(0, 16);

/**
 * Writes through a temporary file and only when the content changed, so a parallel reader (another
 * test worker, a running server) never sees half a file.
 */
function writeAtomically(path: string, data: string | Buffer): void {
  if (existsSync(path) && readFileSync(path).equals(Buffer.from(data))) return;
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function copyVendor(): void {
  for (const { from, files, to } of VENDOR) {
    const dir = join(root, "public/static/vendor", to);
    mkdirSync(dir, { recursive: true });
    // Not cpSync: a parallel test worker may be serving the file right now.
    for (const file of files) writeAtomically(join(dir, file), readFileSync(join(from, file)));
  }
}

/** Tailwind's own CLI (pure JS), run with this Node; it reads tailwind.config.ts. */
function compileCss(): string {
  const cli = join(packageDir("tailwindcss"), "lib/cli.js");
  const out = spawnSync(
    process.execPath,
    [cli, "-c", "tailwind.config.ts", "-i", "templates/styles.css", "--minify"],
    { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  if (out.status !== 0 || !out.stdout) {
    throw new Error(`tailwindcss failed (${out.status}): ${out.stderr}`);
  }
  return out.stdout;
}

/** The CSS file the current manifest points at, which we keep for code that already loaded it. */
function previousCss(): string | undefined {
  if (!existsSync(MANIFEST)) return undefined;
  return /\/static\/build\/(app\.[0-9a-f]{16}\.css)/.exec(readFileSync(MANIFEST, "utf8"))?.[1];
}

function versioned(url: string, file: string): string {
  return `${url}?v=${shortHash(readFileSync(join(root, "public", file)))}`;
}

export type BuiltAssets = {
  css: string;
  htmx: string;
  htmxSse: string;
  app: string;
  webauthn: string;
};

export function buildAssets(): BuiltAssets {
  copyVendor();

  const css = compileCss();
  const cssName = `app.${shortHash(css)}.css`;
  mkdirSync(BUILD_DIR, { recursive: true });
  writeAtomically(join(BUILD_DIR, cssName), css);
  // Keep the build the previous manifest named: a process (a dev server, a test worker) that
  // imported it before this run may still render pages linking to it.
  const keep = new Set([cssName, previousCss()]);
  for (const file of readdirSync(BUILD_DIR)) {
    if (HASHED_CSS.test(file) && !keep.has(file)) rmSync(join(BUILD_DIR, file), { force: true });
  }

  const assets: BuiltAssets = {
    css: `/static/build/${cssName}`,
    htmx: versioned("/static/vendor/htmx/htmx.min.js", "static/vendor/htmx/htmx.min.js"),
    htmxSse: versioned("/static/vendor/htmx/hx-sse.min.js", "static/vendor/htmx/hx-sse.min.js"),
    app: versioned("/static/js/app.js", "static/js/app.js"),
    webauthn: versioned(
      "/static/vendor/simplewebauthn/index.umd.min.js",
      "static/vendor/simplewebauthn/index.umd.min.js",
    ),
  };
  writeAtomically(
    MANIFEST,
    [
      "// Generated by scripts/build-assets.ts (`npm run build:assets`); do not edit or commit.",
      "/** URLs of the browser assets, with content hashes so they can be cached for long. */",
      `export const ASSETS = ${JSON.stringify(assets, null, 2)} as const;`,
      "",
    ].join("\n"),
  );
  // Code in this process that already imported the manifest (tests) links this build from now on;
  // the key is the one templates/layouts/assets.ts reads.
  (globalThis as Record<symbol, unknown>)[Symbol.for("strato.builtAssets")] = assets;
  return assets;
}

/**
 * Rebuilds when a template, a source file or the stylesheet changes (new Tailwind classes), e.g.
 * alongside `wrangler dev`, which reloads when the manifest changes. Returns a function that stops.
 */
export function watchAssets(onBuilt: (assets: BuiltAssets) => void = () => {}): () => void {
  let timer: NodeJS.Timeout | undefined;
  const rebuild = (file: string | null) => {
    if (file === null || !/\.(tsx?|css)$/.test(file) || file.endsWith("assets.gen.ts")) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        onBuilt(buildAssets());
      } catch (err) {
        console.error(err instanceof Error ? err.message : err);
      }
    }, 100);
  };
  const watchers = ["templates", "src"].map((dir) =>
    watch(join(root, dir), { recursive: true }, (_event, file) => rebuild(file)),
  );
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildAssets();
  if (process.argv.includes("--watch")) {
    console.log("Watching templates/ and src/ for changes (Ctrl-C to stop).");
    watchAssets((a) => console.log(`Rebuilt ${a.css}`));
  }
}
