// Stored run events are immutable: a re-sent worker event must equal the stored copy (the
// shipper re-sends after a crash), anything else at a stored worker seq is a conflict, and a
// run ends once. Each refusal is RUN_EVENT_CONFLICT and takes the whole batch with it.
import { OutpostError } from '../../shared/errors.js';
import type { RunEventsPendingTable } from './schema.js';

/** A batch row: run id, worker seq, type, timestamp, step key, level, message, data, error. */
export type Row = [
  string,
  number,
  string,
  number,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
];

export type StoredCols = Pick<
  RunEventsPendingTable,
  'type' | 'timestamp' | 'step_key' | 'level' | 'message' | 'data' | 'error'
>;

export const STORED_COLS = 'type, timestamp, step_key, level, message, data, error';

export function colsOf(row: Row): StoredCols {
  return {
    type: row[2],
    timestamp: row[3],
    step_key: row[4],
    level: row[5],
    message: row[6],
    data: row[7],
    error: row[8],
  };
}

export function assertSame(runId: string, row: Row, stored: StoredCols | undefined): void {
  const same =
    stored !== undefined &&
    stored.type === row[2] &&
    Number(stored.timestamp) === row[3] &&
    stored.step_key === row[4] &&
    stored.level === row[5] &&
    stored.message === row[6] &&
    stored.data === row[7] &&
    stored.error === row[8];
  if (!same) {
    throw new OutpostError('RUN_EVENT_CONFLICT', {
      detail: `run ${runId} seq ${row[1]}: a different event is stored at this seq`,
    });
  }
}

/** A run ends once: terminal events at two worker seqs are refused. */
export function assertOneTerminal(runId: string, terminalSeqs: number[]): void {
  const seqs = [...new Set(terminalSeqs.map(Number))].sort((a, b) => a - b);
  if (seqs.length > 1) {
    throw new OutpostError('RUN_EVENT_CONFLICT', {
      detail: `run ${runId} already has a terminal event (seqs ${seqs.join(', ')})`,
    });
  }
}

/**
 * Where a re-sent worker seq's stored copy can be: a worker event numbered when the run had
 * `offset` = event_seq - last_seq ENGINE events has public seq worker_seq + offset, and offset
 * only grows, so seqs [min, max + current offset] hold every copy (an indexed range scan).
 */
export function resentRange(resent: Row[], currentOffset: number): [number, number] {
  const ws = resent.map((r) => r[1]);
  return [Math.min(...ws), Math.max(...ws) + currentOffset];
}
