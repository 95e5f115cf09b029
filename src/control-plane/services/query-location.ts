// QUERY_CODE_LOCATION from the user API: enqueue the question for an agent (only agents can
// reach code servers) and wait, bounded, for its answer.
import { OutpostError } from '../../shared/errors.js';
import { PayloadSchemas, type WorkItemPayload } from '../../shared/work-items.js';
import { requireLocation } from '../store/locations.js';
import type { Store } from '../store/store.js';
import { enqueueWork, getWorkItem, type WorkItemView } from '../store/work-items.js';
import { formatZodIssues } from '../../shared/zod-issues.js';

/** How often the waiting request re-reads the item (the answer lands on any replica). */
const POLL_MS = 100;

export async function queryCodeLocation(
  store: Store,
  input: unknown,
  waitMs: number,
  signal?: AbortSignal,
): Promise<WorkItemView> {
  const parsed = PayloadSchemas.QUERY_CODE_LOCATION.safeParse(input);
  if (!parsed.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: formatZodIssues(parsed.error),
    });
  }
  const payload: WorkItemPayload<'QUERY_CODE_LOCATION'> = parsed.data;
  const loc = await requireLocation(store.db, payload.location);
  if (!loc.snapshot?.jobs.some((j) => j.name === payload.job)) {
    throw new OutpostError('UNKNOWN_JOB', { detail: `${payload.job} is not in ${payload.location}` });
  }
  const { item } = await enqueueWork(store, { kind: 'QUERY_CODE_LOCATION', payload });
  const deadline = Date.now() + Math.max(0, waitMs);
  let current = item;
  for (let i = 0; i < 100_000 && Date.now() < deadline && !signal?.aborted; i++) {
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
    current = (await getWorkItem(store.db, item.id)) ?? current;
    if (current.status === 'COMPLETED' || current.status === 'FAILED') break;
  }
  return current;
}
