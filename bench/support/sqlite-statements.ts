// Counts the SQLite statements this process runs, by SQL text, while counting is on: better-sqlite3's
// Statement methods (run/get/all/iterate) wrapped once on their shared prototype, each call's time
// on the thread (hrtime around the synchronous call: process.cpuUsage would add other threads' CPU) added to its text.
// For benches that host the control plane in process: "statements per run" before/after.
import SQLite from 'better-sqlite3';

export interface StatementCount {
  calls: number;
  ms: number;
}

const counts = new Map<string, StatementCount>();
let on = false;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const db = new SQLite(':memory:');
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, unknown>;
  db.close();
  for (const m of ['run', 'get', 'all', 'iterate']) {
    const orig = proto[m] as (this: SQLite.Statement, ...a: unknown[]) => unknown;
    proto[m] = function (this: SQLite.Statement, ...a: unknown[]) {
      if (!on) return orig.apply(this, a);
      const t0 = process.hrtime.bigint();
      try {
        return orig.apply(this, a);
      } finally {
        const ns = Number(process.hrtime.bigint() - t0);
        const k = this.source.replace(/\s+/g, ' ').trim();
        const e = counts.get(k) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += ns / 1e6;
        counts.set(k, e);
      }
    };
  }
}

/** Starts counting (from zero). */
export function countStatements(): void {
  install();
  counts.clear();
  on = true;
}

/** Stops counting; the counts by SQL text, most called first. */
export function statementCounts(): Array<[string, StatementCount]> {
  on = false;
  return [...counts].sort((a, b) => b[1].calls - a[1].calls);
}
