/** Ids that become file or directory names must not escape their parent directory. */
const SAFE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function assertSafeName(kind: string, value: string): string {
  if (!SAFE.test(value) || value.includes("..")) {
    throw new TypeError(`${kind} ${JSON.stringify(value)} is not usable as a file name`);
  }
  return value;
}
