// What a partition brings to a launch: only the code location knows a partition key's run
// config and tags, so launchRun asks it (through an agent, bounded) before validating, as
// Dagster's webserver asks its code server when launching a partition run.
import { ERRORS, OutpostError, type ErrorName } from '../../shared/errors.js';
import type { Store } from '../store/store.js';
import { queryCodeLocation } from './query-location.js';

export interface PartitionRunParts {
  runConfig: Record<string, unknown>;
  tags: Record<string, string>;
}

/** The partition's config and tags, asked of the location (both queries at once). */
export async function partitionRunParts(
  store: Store,
  location: string,
  job: string,
  partitionKey: string,
  waitMs = store.limits.locationQueryWaitMs,
): Promise<PartitionRunParts> {
  const ask = async (query: 'partitionConfig' | 'partitionTags'): Promise<Record<string, unknown>> => {
    const answer = await askLocation(store, { location, job, query, partitionKey }, waitMs);
    return isPlainObject(answer) ? answer : {};
  };
  const [config, tags] = await Promise.all([ask('partitionConfig'), ask('partitionTags')]);
  return {
    runConfig: config,
    tags: Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => typeof e[1] === 'string')),
  };
}

/**
 * The job's partition keys as its location lists them now (Dagster answers from its code
 * server's clock), for sets the snapshot cannot enumerate.
 */
export async function partitionNames(
  store: Store,
  location: string,
  job: string,
  waitMs = store.limits.locationQueryWaitMs,
): Promise<string[]> {
  const answer = await askLocation(store, { location, job, query: 'partitionNames' }, waitMs);
  return Array.isArray(answer) ? answer.filter((k): k is string => typeof k === 'string') : [];
}

type PartitionQuery = 'partitionNames' | 'partitionConfig' | 'partitionTags';

/** One partition question's answer; a FAILED item with the agent's code, none with NO_AGENT_ANSWER. */
async function askLocation(
  store: Store,
  q: { location: string; job: string; query: PartitionQuery; partitionKey?: string },
  waitMs: number,
): Promise<unknown> {
  const item = await queryCodeLocation(store, q, waitMs);
  const what = `${q.query} for ${q.job}${q.partitionKey === undefined ? '' : ` partition ${JSON.stringify(q.partitionKey)}`}`;
  if (item.status === 'COMPLETED') return (item.result as { answer?: unknown } | null)?.answer;
  if (item.status === 'FAILED') {
    // The agent's coded error (e.g. USER_CODE_ERROR from partitionConfig) is the one to name.
    const code = item.error?.code?.replace(/^OUTPOST_ERR_/, '') as ErrorName | undefined;
    throw new OutpostError(code && isErrorName(code) ? code : 'USER_CODE_ERROR', {
      detail: `${what}: ${item.error?.message ?? 'failed'}`,
    });
  }
  throw new OutpostError('NO_AGENT_ANSWER', {
    detail: `${what} in ${q.location} was not answered within ${waitMs} ms (work item ${item.id} is ${item.status})`,
  });
}

/** `over` merged onto `base`, objects recursively; `over`'s values win (arrays are values). */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isErrorName(name: string): name is ErrorName {
  return Object.prototype.hasOwnProperty.call(ERRORS, name);
}
