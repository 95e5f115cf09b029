// Which partition key a launch may name, decided from the location's snapshot where it lists
// the keys: a partitioned job needs a key from its set, an unpartitioned job takes none. Pure,
// given `now` (time windows grow as time passes). A Dagster set whose keys the snapshot does not
// list (a time window by cron and strftime, multi- or dynamic partitions) is `askLocation`: the
// agent decides the key's membership when the launch asks for the partition's config.
import {
  listsAllKeys,
  type JobSnapshot,
  type LocationSnapshot,
  type PartitionsSnapshot,
} from '../../shared/location-snapshot.js';
import { partitionKeys, type Cadence, type PartitionsDef } from '../../shared/partitions.js';

export type KeyInSet = { ok: true } | { ok: false; code: 'UNKNOWN_PARTITION'; detail: string };
export type PartitionKeyCheck =
  | KeyInSet
  /** The set's keys are known to the location only (see the header): the agent checks the key. */
  | { ok: 'askLocation'; set: string };

/** Up to this many keys are listed in an error; the rest are counted. */
const SHOWN_KEYS = 10;

export function checkPartitionKey(
  job: JobSnapshot,
  partitions: LocationSnapshot['partitions'],
  key: string | undefined,
  now: number,
): PartitionKeyCheck {
  if (!job.partitions) {
    if (key === undefined) return { ok: true };
    return fail(`job ${job.name} is not partitioned, but partition key ${JSON.stringify(key)} was given`);
  }
  const set = partitions.find((p) => p.name === job.partitions);
  if (!set) return fail(`job ${job.name} names partitions ${job.partitions}, which the location does not define`);
  const keys = keysOf(set, now);
  if (keys && key !== undefined && !listsAllKeys(set) && !keys.includes(key)) {
    // Past the keys a stored snapshot lists (MAX_SNAPSHOT_PARTITION_KEYS): the location decides.
    return { ok: 'askLocation', set: set.name };
  }
  if (!keys) {
    if (key !== undefined) return { ok: 'askLocation', set: set.name };
    return fail(`job ${job.name} is partitioned by ${set.name}: name a partition key (${describeSet(set)})`);
  }
  return checkKeyIn(job.name, set.name, keys, key, set.keyCount);
}

/** `key` against the keys of `set` (from the snapshot, or as the location listed them). */
export function checkKeyIn(
  job: string,
  set: string,
  keys: readonly string[],
  key: string | undefined,
  /** The set's size when `keys` are only its first ones. */
  keyCount?: number,
): KeyInSet {
  if (key === undefined) {
    return fail(`job ${job} is partitioned by ${set}: name a partition key (${shown(keys, keyCount)})`);
  }
  if (keys.includes(key)) return { ok: true };
  return fail(`partition key ${JSON.stringify(key)} is not in ${set} (${shown(keys, keyCount)})`);
}

/** The set's keys at `now`, or undefined when only the location can list them. */
function keysOf(set: LocationSnapshot['partitions'][number], now: number): string[] | undefined {
  if (set.kind === 'static') return set.keys ?? [];
  // Dagster's time windows carry a cron and a strftime format, which Outpost's cadences and
  // date-fns formats do not express; multi and dynamic sets carry no keys at all.
  if (set.kind !== 'timeWindow' || set.cron !== undefined) return undefined;
  const def: PartitionsDef = {
    kind: 'timeWindow',
    name: set.name,
    start: set.start ?? '',
    cadence: (set.cadence ?? 'daily') as Cadence,
    timezone: set.timezone ?? 'UTC',
    format: set.format ?? 'yyyy-MM-dd',
  };
  try {
    return partitionKeys(def, now);
  } catch {
    return [];
  }
}

/** What keys a set the snapshot does not list has, from its definition (never by listing them). */
export function describeSet(set: PartitionsSnapshot | NonNullable<PartitionsSnapshot['dimensions']>[number]): string {
  switch (set.kind) {
    case 'static':
      return shown(set.keys ?? [], 'keyCount' in set ? set.keyCount : undefined);
    case 'timeWindow':
      return `time windows by cron "${set.cron ?? '?'}" in ${set.timezone ?? 'UTC'} from ${set.start ?? '?'}, keys in strftime ${set.format ?? '?'}`;
    case 'multi': {
      const dims = 'dimensions' in set ? (set.dimensions ?? []) : [];
      return `multi-partitions, keys joined with "|": ${dims.map((d) => `${d.name}: ${describeSet(d)}`).join('; ')}`;
    }
    case 'dynamic':
      return 'dynamic partitions, whose keys Dagster keeps in its instance';
    default:
      return `partitions of a kind this Outpost does not know (${set.dagsterClass ?? set.kind}), whose keys the code location lists`;
  }
}

function shown(keys: readonly string[], count = keys.length): string {
  if (!count) return 'it has no keys yet';
  const head = keys.slice(0, SHOWN_KEYS).join(', ');
  return count > SHOWN_KEYS ? `keys: ${head}, … ${count - SHOWN_KEYS} more` : `keys: ${head}`;
}

const fail = (detail: string): KeyInSet => ({ ok: false, code: 'UNKNOWN_PARTITION', detail });
