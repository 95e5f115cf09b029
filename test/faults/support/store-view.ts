// A read-only window on the control plane's SQLite file, next to the running control plane
// (WAL lets a reader sit beside its writer). Fault cases poll it at a tight interval to see
// the exact state of work items and runs at the moment they kill a process, and read the row
// counts they check afterwards. It never writes.
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import type { RunsTable, WorkItemsTable } from '../../../src/control-plane/store/schema.js';

export type WorkItemRow = Pick<
  WorkItemsTable,
  'id' | 'kind' | 'status' | 'run_id' | 'lease_owner' | 'attempts' | 'workflow_id'
>;
export type RunRow = Pick<RunsTable, 'id' | 'status' | 'last_seq' | 'event_seq' | 'stdout_bytes'>;

export interface RunRowCounts {
  run: RunRow;
  items: WorkItemRow[];
  userEvents: number;
  engineEvents: number;
  stdoutChunks: number;
  stdoutBytes: number;
}

export class StoreView {
  private readonly db: SQLite.Database;

  constructor(dbFile: string) {
    this.db = new SQLite(dbFile, { readonly: true, fileMustExist: true, timeout: 5_000 });
  }

  close(): void {
    this.db.close();
  }

  private inList(ids: string[]): string {
    return ids.map(() => '?').join(',');
  }

  /** Work items of these runs (LAUNCH_RUN and TERMINATE_RUN carry the run id). */
  workItems(runIds: string[], kind?: string): WorkItemRow[] {
    const rows = this.db
      .prepare(
        `SELECT id, kind, status, run_id, lease_owner, attempts, workflow_id FROM work_items
          WHERE run_id IN (${this.inList(runIds)}) ORDER BY created_at, id`,
      )
      .all(...runIds) as WorkItemRow[];
    return kind ? rows.filter((r) => r.kind === kind) : rows;
  }

  runs(runIds: string[]): Map<string, RunRow> {
    const rows = this.db
      .prepare(`SELECT id, status, last_seq, event_seq, stdout_bytes FROM runs WHERE id IN (${this.inList(runIds)})`)
      .all(...runIds) as RunRow[];
    return new Map(rows.map((r) => [r.id, r]));
  }

  /** When, relative to `since`, the first and last of these runs were launched, started and ended. */
  timeline(runIds: string[], since: number): string {
    const r = this.db
      .prepare(
        `SELECT MIN(launched_at) AS l0, MAX(launched_at) AS l1, MIN(started_at) AS s0, MAX(started_at) AS s1,
                MIN(ended_at) AS e0, MAX(ended_at) AS e1 FROM runs WHERE id IN (${this.inList(runIds)})`,
      )
      .get(...runIds) as Record<string, number | null>;
    const at = (k: string): string => (r[k] == null ? '-' : `${((Number(r[k]) - since) / 1000).toFixed(1)}s`);
    return `launched ${at('l0')}..${at('l1')}, started ${at('s0')}..${at('s1')}, ended ${at('e0')}..${at('e1')}`;
  }

  /** Stored user (worker-written) events per run. */
  userEventCounts(runIds: string[]): Map<string, number> {
    const rows = this.db
      .prepare(
        `SELECT run_id, COUNT(*) AS n FROM run_events WHERE run_id IN (${this.inList(runIds)})
          AND worker_seq IS NOT NULL GROUP BY run_id`,
      )
      .all(...runIds) as Array<{ run_id: string; n: number }>;
    const out = new Map(runIds.map((id) => [id, 0]));
    for (const r of rows) out.set(r.run_id, Number(r.n));
    return out;
  }

  /** Every row a run owns, with its stdout chunks checked to tile 0..N without gap or overlap. */
  rowCounts(runId: string): RunRowCounts {
    const run = this.runs([runId]).get(runId);
    assert.ok(run, `run ${runId} has a row`);
    const events = this.db
      .prepare(`SELECT seq, worker_seq FROM run_events WHERE run_id = ? ORDER BY seq`)
      .all(runId) as Array<{ seq: number | null; worker_seq: number | null }>;
    const chunks = this.db
      .prepare(
        `SELECT "offset" AS off, length(data) AS len FROM compute_logs WHERE run_id = ? AND stream = 'stdout'
          ORDER BY "offset"`,
      )
      .all(runId) as Array<{ off: number; len: number }>;
    let end = 0;
    for (const c of chunks) {
      assert.equal(Number(c.off), end, `run ${runId}: stdout chunk at ${c.off} does not follow byte ${end}`);
      end += Number(c.len);
    }
    const userEvents = events.filter((e) => e.worker_seq !== null).length;
    return {
      run,
      items: this.workItems([runId]),
      userEvents,
      engineEvents: events.length - userEvents,
      stdoutChunks: chunks.length,
      stdoutBytes: end,
    };
  }
}
