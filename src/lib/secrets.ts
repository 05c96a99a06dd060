import type { Random } from "./random";

/** Helpers for bearer secrets (session cookies, API tokens, invitation links): mint, hash, compare. */

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** 256 random bits, URL-safe, with an optional prefix that tells people and scanners what it is. */
export function newSecret(random: Random, prefix = ""): string {
  return prefix + base64url(random.bytes(32));
}

/** Secrets are stored only as this: a leaked table does not let anyone sign in. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares without an early exit, so response time does not reveal how much of a guess matched. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
