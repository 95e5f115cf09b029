// Shared output for CLI commands: JSON when --json, text otherwise, and coded errors.
import { printCliError, type ClientOptions } from './client.js';

export interface ActionResult {
  data: unknown;
  text: () => string;
  /** Process exit code; default 0. */
  exitCode?: number;
}

/** Runs a command body, prints its result, and maps errors to exit code 2. */
export async function runAction(opts: ClientOptions, body: () => Promise<ActionResult | undefined>): Promise<void> {
  try {
    const res = await body();
    if (res) {
      if (opts.json) console.log(JSON.stringify(res.data, null, 2));
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

export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}
