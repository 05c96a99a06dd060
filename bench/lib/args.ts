import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

/**
 * A bench's own flags: what follows its name in `npm run bench -- NAME --flag …`, or everything
 * after the script in `npx tsx bench/NAME.ts --flag …`. Unknown flags are an error.
 */
export function benchArgs<O extends ParseArgsOptionsConfig>(name: string, options: O) {
  const argv = process.argv.slice(2);
  const args = argv[0] === name ? argv.slice(1) : argv;
  return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
}

/** A positive integer flag (or its default); exits with a usage message when it is not one. */
export function intFlag(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    console.error(`--${flag} must be a positive integer, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}
