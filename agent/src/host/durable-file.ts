import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Replaces `path` atomically and durably: a temp file of its own, fsync'd, renamed into place, then
 * the directory fsync'd. A power loss leaves the old content or the new, never an empty file (which
 * some file systems leave after a rename of unsynced data). For files the host cannot rebuild:
 * image pins, VM records.
 */
export async function writeFileDurably(path: string, content: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const file = await open(tmp, "wx", mode);
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
