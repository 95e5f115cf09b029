// What a partition brings to a launch: only the code location knows a partition key's run
// config and tags (and, for Dagster sets the snapshot does not list, whether the key is in the
// set), so launchRun asks it in one query (partitionRun, through an agent, bounded) before
// validating. The set itself is never listed here: an hourly Dagster set since 2015 is 2 MB.
import { ERRORS, OutpostError, type ErrorName } from '../../shared/errors.js';
import { PartitionRunAnswerSchema, type PartitionRunAnswer } from '../../shared/work-items.js';
import type { Store } from '../store/store.js';
import { checkKeyIn } from '../core/partition-key.js';
import type { WorkItemView } from '../store/work-items.js';
import { noAnswer, queryCodeLocation } from './query-location.js';

/**
 * The partition's config and tags, asked of the location; a key outside the set is refused by
 * the agent (UNKNOWN_PARTITION with a hint), a dynamic Dagster set too (UNSUPPORTED_DAGSTER_FEATURE).
 */
export async function partitionRun(
  store: Store,
  location: string,
  job: string,
  partitionKey: string,
  /** The set's name when the snapshot cannot list its keys (the location decides membership). */
  askSet?: string,
  waitMs = store.limits.locationQueryWaitMs,
): Promise<PartitionRunAnswer> {
  const q = { location, job, query: 'partitionRun' as const, partitionKey };
  const what = `partitionRun for ${job} partition ${JSON.stringify(partitionKey)}`;
  const item = await queryCodeLocation(store, q, waitMs);
  if (agentLacksQuery(item, 'partitionRun')) {
    // An agent from before partitionRun (round 11) refused the query kind: ask it as it was
    // asked then, so a control plane upgraded first keeps launching partitions.
    return olderPartitionRun(store, { location, job, partitionKey, askSet }, waitMs);
  }
  if (item.status === 'FAILED') {
    // The agent's coded error (UNKNOWN_PARTITION, USER_CODE_ERROR from the partition's config) is the one to name.
    const code = item.error?.code?.replace(/^OUTPOST_ERR_/, '') as ErrorName | undefined;
    const name = code && isErrorName(code) ? code : 'USER_CODE_ERROR';
    // The agent's message starts with the same code's title, which the refusal already shows.
    const message = (item.error?.message ?? 'failed').replace(`${ERRORS[name].message}: `, '');
    throw new OutpostError(name, { detail: `${what}: ${message}` });
  }
  if (item.status !== 'COMPLETED') throw await noAnswer(store, item, `${what} in ${location}`, waitMs);
  const answer = PartitionRunAnswerSchema.safeParse((item.result as { answer?: unknown } | null)?.answer);
  if (!answer.success) {
    // An agent from before partitionRun answers something else (or refuses the query).
    throw new OutpostError('NO_AGENT_ANSWER', {
      detail: `${what}: the agent's answer is not a partition's config and tags (work item ${item.id}); upgrade the agents serving ${location}`,
    });
  }
  return answer.data;
}

/**
 * Whether the agent refused the item because its payload names a query kind it does not know.
 * An agent parses a payload against its own schema before starting anything, and fails the item
 * INVALID_ARGUMENT naming the field ("payload of QUERY_CODE_LOCATION item …: query: Invalid enum
 * value. Expected 'partitionNames' | …, received 'partitionRun'").
 */
export function agentLacksQuery(item: Pick<WorkItemView, 'status' | 'error'>, query: string): boolean {
  if (item.status !== 'FAILED' || item.error?.code?.replace(/^OUTPOST_ERR_/, '') !== 'INVALID_ARGUMENT') return false;
  const message = item.error.message ?? '';
  return message.includes('payload of QUERY_CODE_LOCATION') && message.includes(`'${query}'`);
}

/**
 * A partition's config and tags as a control plane asked before partitionRun: the set listed
 * (only where the snapshot cannot list it; the agent answers the whole list), then
 * partitionConfig and partitionTags.
 */
async function olderPartitionRun(
  store: Store,
  p: { location: string; job: string; partitionKey: string; askSet: string | undefined },
  waitMs: number,
): Promise<PartitionRunAnswer> {
  const ask = async (query: 'partitionNames' | 'partitionConfig' | 'partitionTags'): Promise<unknown> => {
    const q = {
      location: p.location,
      job: p.job,
      query,
      ...(query === 'partitionNames' ? {} : { partitionKey: p.partitionKey }),
    };
    const what = `${query} for ${p.job}${query === 'partitionNames' ? '' : ` partition ${JSON.stringify(p.partitionKey)}`} (an agent from before partitionRun)`;
    const item = await queryCodeLocation(store, q, waitMs);
    if (item.status === 'FAILED') {
      const code = item.error?.code?.replace(/^OUTPOST_ERR_/, '') as ErrorName | undefined;
      throw new OutpostError(code && isErrorName(code) ? code : 'USER_CODE_ERROR', {
        detail: `${what}: ${item.error?.message ?? 'failed'}`,
      });
    }
    if (item.status !== 'COMPLETED') throw await noAnswer(store, item, `${what} in ${p.location}`, waitMs);
    return (item.result as { answer?: unknown } | null)?.answer;
  };
  if (p.askSet !== undefined) {
    const listed = await ask('partitionNames');
    const keys = Array.isArray(listed) ? listed.filter((k): k is string => typeof k === 'string') : [];
    const member = checkKeyIn(p.job, p.askSet, keys, p.partitionKey);
    if (!member.ok) throw new OutpostError(member.code, { detail: member.detail });
  }
  const [config, tags] = await Promise.all([ask('partitionConfig'), ask('partitionTags')]);
  return {
    runConfig: isPlainObject(config) ? config : {},
    tags: isPlainObject(tags)
      ? Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => typeof e[1] === 'string'))
      : {},
  };
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
