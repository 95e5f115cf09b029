// Shared output for CLI commands: JSON when --json, text otherwise, and coded errors.
import { formatDurationMs } from '../shared/run-timing.js';
import { printCliError, type ClientOptions } from './client.js';

export interface ActionResult {
  data: unknown;
  text: () => string;
  /** Process exit code; default 0. */
  exitCode?: number;
  /** Under --json, print `data` as one line: the last line of an NDJSON stream (e.g. --follow). */
  ndjson?: boolean;
}

/** Runs a command body, prints its result, and maps errors to exit code 2. */
export async function runAction(opts: ClientOptions, body: () => Promise<ActionResult | undefined>): Promise<void> {
  try {
    const res = await body();
    if (res) {
      if (opts.json) console.log(res.ndjson ? JSON.stringify(res.data) : JSON.stringify(res.data, null, 2));
      else {
        const text = res.text();
        if (text) console.log(text);
      }
      if (res.exitCode) process.exitCode = res.exitCode;
    }
  } catch (err) {
    printCliError(err, Boolean(opts.json));
    process.exitCode = 2;
  }
}

export function printTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** The run's durationMs as the API computed it (run-timing.ts), in the form the UI shows. */
export function formatDuration(ms: number | null | undefined): string {
  return ms == null ? '' : formatDurationMs(ms);
}
