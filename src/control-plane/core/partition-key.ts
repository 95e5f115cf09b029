// Which partition key a launch may name, decided from the location's snapshot alone (the
// control plane never asks user code here): a partitioned job needs a key from its set, an
// unpartitioned job takes none. Pure, given `now` (time windows grow as time passes).
import type { JobSnapshot, LocationSnapshot } from '../../shared/location-snapshot.js';
import { partitionKeys, type Cadence, type PartitionsDef } from '../../shared/partitions.js';

export type PartitionKeyCheck = { ok: true } | { ok: false; code: 'UNKNOWN_PARTITION'; detail: string };

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
  if (key === undefined) {
    return fail(`job ${job.name} is partitioned by ${set.name}: name a partition key (${shown(keys)})`);
  }
  if (keys.includes(key)) return { ok: true };
  return fail(`partition key ${JSON.stringify(key)} is not in ${set.name} (${shown(keys)})`);
}

function keysOf(set: LocationSnapshot['partitions'][number], now: number): string[] {
  if (set.kind === 'static') return set.keys ?? [];
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

function shown(keys: string[]): string {
  if (!keys.length) return 'it has no keys yet';
  const head = keys.slice(0, SHOWN_KEYS).join(', ');
  return keys.length > SHOWN_KEYS ? `keys: ${head}, … ${keys.length - SHOWN_KEYS} more` : `keys: ${head}`;
}

const fail = (detail: string): PartitionKeyCheck => ({ ok: false, code: 'UNKNOWN_PARTITION', detail });
