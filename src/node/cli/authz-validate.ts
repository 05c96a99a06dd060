/**
 * `strato authz validate [--expect-error ID]… FILE.yaml [[--expect-error ID]… FILE…]` (also
 * `npm run authz:validate -- …`): runs Permify validation files against the embedded engine; exits
 * 1 on any failure, on any error not listed with `--expect-error`, and on a listed error that did
 * not happen. `--expect-error` applies to the next FILE only (ids are per file).
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { formatReport } from "../../authz/validate/format";
import { runValidation } from "../../authz/validate/runner";

/** Runs Permify validation files; returns the exit code (0 ok, 1 failures, 2 usage). */
export async function authzValidate(argv: string[]): Promise<number> {
  const files: { file: string; expectErrors: string[] }[] = [];
  let expectErrors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--expect-error") {
      const id = argv[++i];
      if (id === undefined) return usage("--expect-error needs an assertion id");
      expectErrors.push(id);
    } else if (arg.startsWith("-")) {
      return usage(`unknown option ${arg}`);
    } else {
      files.push({ file: arg, expectErrors });
      expectErrors = [];
    }
  }
  if (files.length === 0) return usage("no file given");
  if (expectErrors.length > 0) return usage("--expect-error must come before its FILE");
  let ok = true;
  for (const { file, expectErrors } of files) {
    const report = await runValidation(await readFile(file, "utf8"), {
      expectErrors,
      // A schema path is relative to the validation file, so files can move with their schema.
      loadSchema: (path) => readFile(resolve(dirname(file), path), "utf8"),
    });
    for (const line of formatReport(file, report)) console.log(line);
    ok &&= report.ok;
  }
  return ok ? 0 : 1;
}

function usage(message: string): number {
  console.error(`authz validate: ${message}`);
  console.error("usage: strato authz validate [--expect-error ID]... FILE.yaml [FILE...]");
  return 2;
}
