// The events a run worker wrote to its spool (events.jsonl), read back whole: what the process
// and Dagster launcher tests assert on before anything ships them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPOOL_FILES, type RunEvent } from '../../src/shared/run-events.js';

/** Every complete line of the run's events file, parsed; none before the file exists. */
export function spooledEvents(launcher: { spoolDir(runId: string): string }, runId: string): RunEvent[] {
  const file = join(launcher.spoolDir(runId), SPOOL_FILES.events);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RunEvent);
}
