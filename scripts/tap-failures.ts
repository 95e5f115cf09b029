// Reads the TAP report of a test run and returns each failed test with its diagnostics, so the
// end of a long CI log names what failed (the failing test's own lines may be far above it).
// A suite that failed only because a test inside it failed ('subtestsFailed') is left out:
// the test itself is listed.

export interface TapFailure {
  /** The names from the file's outermost test down to the failed one, joined by " > ". */
  name: string;
  /** The YAML block under the `not ok` line (location, error, stack), as printed. */
  details: string[];
}

const NOT_OK = /^(\s*)not ok \d+ - (.*)$/;
const SUBTEST = /^(\s*)# Subtest: (.*)$/;
const MAX_DETAIL_LINES = 40;

export function tapFailures(tap: string): TapFailure[] {
  const lines = tap.split('\n');
  const failures: TapFailure[] = [];
  // The open subtests by depth (4 spaces per level), so a failure can be named by its path.
  const path: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const sub = SUBTEST.exec(line);
    if (sub) {
      const depth = (sub[1] ?? '').length / 4;
      path.length = depth;
      path.push(sub[2] ?? '');
      continue;
    }
    const notOk = NOT_OK.exec(line);
    if (!notOk) continue;
    const indent = notOk[1] ?? '';
    const depth = indent.length / 4;
    const details: string[] = [];
    let j = i + 1;
    if ((lines[j] ?? '') === `${indent}  ---`) {
      for (j++; j < lines.length && lines[j] !== `${indent}  ...`; j++)
        details.push((lines[j] ?? '').slice(indent.length + 2));
    }
    i = j;
    if (details.some((d) => d.startsWith("failureType: 'subtestsFailed'"))) continue;
    const names = [...path.slice(0, depth), notOk[2] ?? ''];
    failures.push({
      name: names.join(' > '),
      details:
        details.length > MAX_DETAIL_LINES
          ? [
              ...details.slice(0, MAX_DETAIL_LINES),
              `… ${details.length - MAX_DETAIL_LINES} more lines in the TAP report`,
            ]
          : details,
    });
  }
  return failures;
}

export function failureSummary(failures: TapFailure[], reportPath: string): string {
  if (!failures.length) return '';
  const out = [`run-tests: ${failures.length} failed (the whole TAP report is ${reportPath}):`];
  for (const f of failures) {
    out.push(`not ok - ${f.name}`);
    for (const d of f.details) out.push(`    ${d}`);
  }
  return out.join('\n');
}
