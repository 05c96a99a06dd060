import { ASSETS } from "../assets.gen";

/**
 * URLs of the browser assets pages link to (hashed stylesheet, htmx and its SSE extension, app.js,
 * WebAuthn bundle).
 */
export type Assets = { css: string; htmx: string; htmxSse: string; app: string; webauthn: string };

/**
 * Where scripts/build-assets.ts leaves the URLs of a build made in this process. The generated
 * module is read once at import, so a process that imported it and then rebuilt (the test
 * harness, which builds before its first app) would otherwise link the previous stylesheet.
 */
export const BUILT_ASSETS_KEY = Symbol.for("strato.builtAssets");

/** The current asset URLs: from a build in this process if there was one, else the manifest. */
export function assets(): Assets {
  const built = (globalThis as { [BUILT_ASSETS_KEY]?: Assets })[BUILT_ASSETS_KEY];
  return built ?? ASSETS;
}
