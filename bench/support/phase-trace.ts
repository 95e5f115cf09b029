// Per-item phase timeline of the throughput benchmark: the store's own timestamps (enqueue =
// created_at; the claim, ack and completion each set updated_at, caught while the bench polls)
// joined with the item's workflow history (each event's server-side time). Every mark is taken
// as ms since the item was enqueued; the median of each mark over all items gives the timeline.
import type { Client } from '@temporalio/client';

export type Marks = Map<string, number>;

/** Store marks by item id: status -> its updated_at (first time the bench saw that status). */
export class StoreMarks {
  readonly byItem = new Map<string, Marks>();

  see(id: string, status: string, updatedAt: number, createdAt: number): void {
    let m = this.byItem.get(id);
    if (!m) this.byItem.set(id, (m = new Map([['store: enqueued', createdAt]])));
    if (status !== 'QUEUED' && !m.has(`store: ${status}`)) m.set(`store: ${status}`, updatedAt);
  }
}

// History event types (temporal.api.enums.v1.EventType) the timeline names; others show as numbers.
const EVENT_TYPES: Record<number, string> = {
  1: 'WorkflowExecutionStarted',
  2: 'WorkflowExecutionCompleted',
  3: 'WorkflowExecutionFailed',
  5: 'WorkflowTaskScheduled',
  6: 'WorkflowTaskStarted',
  7: 'WorkflowTaskCompleted',
  8: 'WorkflowTaskTimedOut',
  9: 'WorkflowTaskFailed',
  10: 'ActivityTaskScheduled',
  11: 'ActivityTaskStarted',
  12: 'ActivityTaskCompleted',
  13: 'ActivityTaskFailed',
  14: 'ActivityTaskTimedOut',
  25: 'MarkerRecorded',
  26: 'WorkflowExecutionSignaled',
};

const tsMs = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : NaN;

/** Adds the workflow history's events (`temporal: <event>[ <activity>]`) to an item's marks. */
export async function addHistoryMarks(client: Client, workflowId: string, marks: Marks): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const activityOf = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const e of history.events ?? []) {
    const type = EVENT_TYPES[Number(e.eventType ?? 0)] ?? `event ${String(e.eventType)}`;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) activityOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    const ref =
      e.activityTaskStartedEventAttributes?.scheduledEventId ??
      e.activityTaskCompletedEventAttributes?.scheduledEventId ??
      e.activityTaskFailedEventAttributes?.scheduledEventId;
    const activity = scheduled ? activityOf.get(String(e.eventId)) : ref ? activityOf.get(String(ref)) : undefined;
    const base = `temporal: ${type}${activity ? ` ${activity}` : ''}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    marks.set(n > 1 ? `${base} #${n}` : base, tsMs(e.eventTime));
  }
}

export interface PhaseRow {
  mark: string;
  /** Median ms since enqueue. */
  p50: number;
  /** Median of (this mark - previous mark in the timeline), per item. */
  stepP50: number;
  /** Slowest item's ms since enqueue: outliers (an item recovered by lease expiry) show here. */
  max: number;
  items: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

/** The timeline: every mark present in at least half the items, ordered by its median offset. */
export function timeline(items: Marks[]): PhaseRow[] {
  const offsets = new Map<string, number[]>();
  for (const m of items) {
    const t0 = m.get('store: enqueued')!;
    for (const [k, v] of m) if (Number.isFinite(v)) (offsets.get(k) ?? offsets.set(k, []).get(k)!).push(v - t0);
  }
  const rows = [...offsets.entries()]
    .filter(([, xs]) => xs.length * 2 >= items.length)
    .map(([mark, xs]) => ({ mark, p50: median(xs), max: Math.max(...xs), items: xs.length }))
    .sort((a, b) => a.p50 - b.p50);
  return rows.map((r, i) => {
    const prev = rows[i - 1];
    const steps = prev
      ? items.flatMap((m) => {
          const a = m.get(prev.mark);
          const b = m.get(r.mark);
          return a !== undefined && b !== undefined ? [b - a] : [];
        })
      : [0];
    return { ...r, stepP50: median(steps) };
  });
}

export function formatTimeline(rows: PhaseRow[]): string[] {
  return [
    '| mark | p50 ms since enqueue | step p50 ms | max ms since enqueue | items |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) => `| ${r.mark} | ${r.p50.toFixed(1)} | ${r.stepP50.toFixed(1)} | ${r.max.toFixed(0)} | ${r.items} |`,
    ),
  ];
}

/** The `n` items slowest to their last store mark, each as one line of its marks in time order. */
export function slowest(items: Array<{ runId: string; marks: Marks }>, n: number): string[] {
  const offsets = (m: Marks): Array<[string, number]> => {
    const t0 = m.get('store: enqueued')!;
    return [...m].filter(([, v]) => Number.isFinite(v)).map(([k, v]): [string, number] => [k, v - t0]);
  };
  const end = (m: Marks): number =>
    Math.max(
      ...offsets(m)
        .filter(([k]) => k.startsWith('store:'))
        .map(([, v]) => v),
    );
  return [...items]
    .sort((a, b) => end(b.marks) - end(a.marks))
    .slice(0, n)
    .map(
      (t) =>
        `- ${t.runId} (${end(t.marks).toFixed(0)} ms): ` +
        offsets(t.marks)
          .sort((a, b) => a[1] - b[1])
          .map(([k, v]) => `${k.replace(/^(store|temporal): /, '')} ${v.toFixed(0)}`)
          .join(' → '),
    );
}

/** How many items have both marks, and of those how many have `first` before (or at) `then`. */
export function orderOf(items: Marks[], first: string, then: string): { both: number; before: number } {
  let both = 0;
  let before = 0;
  for (const m of items) {
    const a = m.get(first);
    const b = m.get(then);
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) continue;
    both++;
    if (a <= b) before++;
  }
  return { both, before };
}
