import type { ValidationReport } from "./runner";

/** Plain-text report lines for the CLI: one line per assertion, then a summary. */
export function formatReport(file: string, report: ValidationReport): string[] {
  const lines = [`# ${file}`];
  if (report.loadError !== undefined) {
    lines.push(`  LOAD ERROR ${report.loadError}`);
    return lines;
  }
  for (const r of report.results) {
    const expected = JSON.stringify(r.expected);
    if (r.status === "pass") {
      lines.push(`  pass  ${r.id}  ${r.query} = ${expected}`);
    } else if (r.status === "fail") {
      lines.push(
        `  FAIL  ${r.id}  ${r.query}: expected ${expected}, got ${JSON.stringify(r.actual)}`,
      );
    } else {
      lines.push(`  ERROR ${r.id}  ${r.query}: ${r.error?.message ?? "error"}`);
    }
  }
  for (const id of report.missingExpectedErrors)
    lines.push(`  FAIL  ${id}: expected an error, none`);
  const count = (s: string) => report.results.filter((r) => r.status === s).length;
  lines.push(
    `  ${report.ok ? "OK" : "FAILED"}: ${count("pass")} passed, ${count("fail")} failed, ${count("error")} errors`,
  );
  return lines;
}
