import { closeSync, openSync, readSync } from "node:fs";

/** "QFI\xfb": the first four bytes of every qcow2 file. */
const QCOW_MAGIC = 0x514649fb;

export type QcowFacts = { hasBacking: boolean; virtualSizeBytes: bigint };

/**
 * The qcow2 header fields a disk resize depends on, or undefined for a file that is not qcow2 (or
 * cannot be read). Header layout: magic (0), version (4), backing_file_offset (8, u64),
 * backing_file_size (16), cluster_bits (20), size (24, u64), all big-endian.
 */
export function readQcowFacts(path: string): QcowFacts | undefined {
  const header = Buffer.alloc(32);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    if (readSync(fd, header, 0, header.length, 0) < header.length) return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (header.readUInt32BE(0) !== QCOW_MAGIC) return undefined;
  return {
    hasBacking: header.readBigUInt64BE(8) !== 0n,
    virtualSizeBytes: header.readBigUInt64BE(24),
  };
}
