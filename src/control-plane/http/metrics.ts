// Prometheus text exposition, hand-written: process counters kept here, and gauges read
// from the store (so every replica reports the shared truth). /metrics needs no token, and the
// gauges count every run and work item (65 ms of the event loop per scrape at 500k runs on
// SQLite): they are read at most once per GAUGE_TTL_MS, however often it is asked.
import { sql } from 'kysely';
import type { Store } from '../store/store.js';

const HELP: Record<string, string> = {
  outpost_http_requests_total: 'HTTP requests by route and status.',
  outpost_work_items_claimed_total: 'Work items handed to agents by this replica.',
  outpost_run_events_received_total: 'Run events received by this replica (including duplicates).',
  outpost_compute_log_bytes_received_total: 'Compute-log bytes received by this replica.',
};

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** How long one read of the store's gauges answers scrapes (store clock). Prometheus scrapes every 15 s or more. */
export const GAUGE_TTL_MS = 5_000;

export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  /** The last read of the gauges (or the one under way) and when it began. */
  private gauges: { at: number; lines: Promise<string[]> } | undefined;

  inc(name: string, by = 1, labels: Record<string, string> = {}): void {
    const key = Object.entries(labels)
      .map(([k, v]) => `${k}="${escape(v)}"`)
      .join(',');
    let m = this.counters.get(name);
    if (!m) {
      m = new Map<string, number>();
      this.counters.set(name, m);
    }
    m.set(key, (m.get(key) ?? 0) + by);
  }

  async render(store: Store): Promise<string> {
    const out: string[] = [];
    for (const name of new Set([...Object.keys(HELP), ...this.counters.keys()])) {
      out.push(`# HELP ${name} ${HELP[name] ?? name}`, `# TYPE ${name} counter`);
      const m = this.counters.get(name);
      if (!m || m.size === 0) out.push(`${name} 0`);
      else for (const [labels, v] of m) out.push(labels ? `${name}{${labels}} ${v}` : `${name} ${v}`);
    }
    out.push(...(await this.storeGauges(store)));
    return out.join('\n') + '\n';
  }

  private storeGauges(store: Store): Promise<string[]> {
    const now = store.now();
    const cached = this.gauges;
    if (cached && now - cached.at >= 0 && now - cached.at < GAUGE_TTL_MS) return cached.lines;
    const lines = readGauges(store);
    this.gauges = { at: now, lines };
    // A failed read is not kept: the next scrape tries again.
    lines.catch(() => {
      if (this.gauges?.lines === lines) this.gauges = undefined;
    });
    return lines;
  }
}

async function readGauges(store: Store): Promise<string[]> {
  const out: string[] = [];
  const gauge = async (name: string, help: string, table: 'runs' | 'work_items'): Promise<void> => {
    const rows = await sql<{
      status: string;
      n: number;
    }>`SELECT status, count(*) AS n FROM ${sql.table(table)} GROUP BY status`.execute(store.db);
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const r of rows.rows) out.push(`${name}{status="${escape(r.status)}"} ${Number(r.n)}`);
  };
  await gauge('outpost_runs', 'Runs by status.', 'runs');
  await gauge('outpost_work_items', 'Work items by status.', 'work_items');
  const agents = await store.db.selectFrom('agents').select('last_heartbeat_at').execute();
  const now = store.now();
  const healthy = agents.filter(
    (a) => now - Number(a.last_heartbeat_at) <= 3 * store.limits.heartbeatIntervalMs,
  ).length;
  out.push('# HELP outpost_agents Registered agents by health.', '# TYPE outpost_agents gauge');
  out.push(`outpost_agents{healthy="true"} ${healthy}`, `outpost_agents{healthy="false"} ${agents.length - healthy}`);
  return out;
}
