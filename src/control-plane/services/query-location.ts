// QUERY_CODE_LOCATION from the user API: enqueue the question for an agent (only agents can
// reach code servers) and wait, bounded, for its answer.
import { ERRORS, OutpostError, type ErrorName } from '../../shared/errors.js';
import {
  keysMatching,
  MAX_PARTITION_NAMES_PAGE,
  PayloadSchemas,
  type WorkItemPayload,
} from '../../shared/work-items.js';
import { requireLocation } from '../store/locations.js';
import type { Store } from '../store/store.js';
import { abandonQueued, enqueueWork, getWorkItem, type WorkItemView } from '../store/work-items.js';
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
  // A page, always: an agent answers a request without `first` with the whole list (what a
  // control plane from before paging expects, work-items.ts partitionNamesAnswer).
  if (payload.query === 'partitionNames') payload.first ??= MAX_PARTITION_NAMES_PAGE;
  const loc = await requireLocation(store.db, payload.location);
  if (!loc.snapshot?.jobs.some((j) => j.name === payload.job)) {
    throw new OutpostError('UNKNOWN_JOB', { detail: `${payload.job} is not in ${payload.location}` });
  }
  const { item } = await enqueueWork(store, { kind: 'QUERY_CODE_LOCATION', payload });
  const answered = await waitForItem(store, item, waitMs, signal);
  return payload.search ? searchedHere(answered, payload.search) : answered;
}

/**
 * An agent from before partitionNames search ignores `search` and answers a plain page (without
 * `search`): its keys are filtered here, and `searchedPage` says only that page was searched.
 */
function searchedHere(item: WorkItemView, search: string): WorkItemView {
  const answer = (item.result as { answer?: unknown } | null)?.answer;
  if (item.status !== 'COMPLETED' || typeof answer !== 'object' || answer === null || 'search' in answer) return item;
  const page = answer as { keys?: unknown };
  if (!Array.isArray(page.keys)) return item;
  const keys = keysMatching(
    page.keys.filter((k): k is string => typeof k === 'string'),
    search,
  );
  return { ...item, result: { answer: { ...page, keys, search, searchedPage: true } } };
}

/** Re-reads `item` until it is finished or `waitMs` passed; returns it as last read. */
export async function waitForItem(
  store: Store,
  item: WorkItemView,
  waitMs: number,
  signal?: AbortSignal,
): Promise<WorkItemView> {
  const deadline = Date.now() + Math.max(0, waitMs);
  let current = item;
  for (let i = 0; i < 100_000 && Date.now() < deadline && !signal?.aborted; i++) {
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
    current = (await getWorkItem(store.db, item.id)) ?? current;
    if (current.status === 'COMPLETED' || current.status === 'FAILED') break;
  }
  return current;
}

/**
 * The coded error for a FAILED item: the agent's own code when this registry knows it (its
 * message, e.g. Dagster's, passed through), else `fallback` with the agent's code in the detail.
 */
export function itemError(item: WorkItemView, fallback: ErrorName, what: string): OutpostError {
  const raw = item.error?.code ?? '';
  const name = raw.replace(/^OUTPOST_ERR_/, '');
  const message = item.error?.message ?? 'failed';
  // The agent's message starts with its code's title, which this error's own message shows once.
  if (isErrorName(name)) {
    return new OutpostError(name, { detail: `${what}: ${message.replace(`${ERRORS[name].message}: `, '')}` });
  }
  return new OutpostError(fallback, { detail: `${what}: ${raw ? `${raw}: ` : ''}${message}` });
}

/**
 * NO_AGENT_ANSWER for an item still open after `waitMs`. One still QUEUED is failed with the same
 * code first: nobody reads its answer any more, so no agent should start on it (left QUEUED, it
 * stayed in the queue until an agent came, however late, and made its code server answer).
 */
export async function noAnswer(store: Store, item: WorkItemView, what: string, waitMs: number): Promise<OutpostError> {
  const err = new OutpostError('NO_AGENT_ANSWER', {
    detail: `${what} was not answered within ${waitMs} ms (work item ${item.id} is ${item.status})`,
  });
  if (item.status === 'QUEUED') {
    // An agent may claim it between the last read and this update: then it stays the agent's.
    const abandoned = await abandonQueued(store.db, store, item.id, { code: err.code, message: err.message });
    if (abandoned) {
      return new OutpostError('NO_AGENT_ANSWER', {
        detail: `${what} was not answered within ${waitMs} ms (work item ${item.id} was still QUEUED; it is FAILED now, so no agent starts on it)`,
      });
    }
  }
  return err;
}

export function isErrorName(name: string): name is ErrorName {
  return Object.prototype.hasOwnProperty.call(ERRORS, name);
}
