// What this agent sends a control plane older than itself, when that control plane refuses what
// it sent. Large static sets: this agent sends a set's first keys and its count, marked
// keysBounded; a control plane from before that field refuses the report, and is sent the sets
// whole (it may not know keyCount, and would then take the first keys for the set).
// A round-11 control plane (before 'other' partitions) refuses a snapshot
// naming a partition kind 'other' (a later Dagster's set, whose keys the code server lists), and
// with it the whole location. Sent again with those sets as 'dynamic', the older control plane
// stores the location and asks this agent whether a key is in such a set at launch (partitionRun),
// which this agent answers from its own snapshot ('other': it lists the set on the code server).
import { isOutpostError } from '../shared/errors.js';

/**
 * Whether `refusal` is a control plane's INVALID_ARGUMENT about the kind of partition set `index`
 * of the snapshot: one of its issues (shared/zod-issues.ts, as in round 11: `<path>: <message>`,
 * joined by "; ") names the path `partitions.<index>.kind`. Only the code and that path are read:
 * not the words before the issues (the code's message and the `snapshot: ` label, the control
 * plane's to reword) nor zod's after the path (they differ between zod versions).
 */
function refusesPartitionKind(refusal: unknown, index: number): boolean {
  if (!isOutpostError(refusal, 'INVALID_ARGUMENT')) return false;
  return new RegExp(`(?:^|: |; )partitions\\.${index}\\.kind: `).test(refusal.message);
}

/**
 * `snapshot` as an older control plane accepts it, given that control plane's refusal (the error
 * its call threw): its 'other' sets as 'dynamic' when the refusal is about the kind of one of
 * them; undefined when it is about something else.
 */
export function snapshotForOlderControlPlane(snapshot: unknown, refusal: unknown): unknown {
  if (!isObject(snapshot) || !Array.isArray(snapshot.partitions)) return undefined;
  const partitions: unknown[] = snapshot.partitions;
  const isOther = (p: unknown): p is Record<string, unknown> => isObject(p) && p.kind === 'other';
  if (!partitions.some((p, i) => isOther(p) && refusesPartitionKind(refusal, i))) return undefined;
  return { ...snapshot, partitions: partitions.map((p) => (isOther(p) ? { ...p, kind: 'dynamic' } : p)) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The refusal of a control plane whose ReportCodeLocationInput has no keysBounded. */
const REFUSES_KEYS_BOUNDED = /"keysBounded" is not defined by type "ReportCodeLocationInput"/;

export function refusesKeysBounded(refusal: string): boolean {
  return REFUSES_KEYS_BOUNDED.test(refusal);
}
