// What this agent sends a control plane older than itself, when that control plane refuses what
// it sent. Large static sets: this agent sends a set's first keys and its count, marked
// keysBounded; a control plane from before that field refuses the report, and is sent the sets
// whole (it may not know keyCount, and would then take the first keys for the set).
// A round-11 control plane (before 'other' partitions) refuses a snapshot
// naming a partition kind 'other' (a later Dagster's set, whose keys the code server lists), and
// with it the whole location. Sent again with those sets as 'dynamic', the older control plane
// stores the location and asks this agent whether a key is in such a set at launch (partitionRun),
// which this agent answers from its own snapshot ('other': it lists the set on the code server).

/** The refusal of a control plane whose snapshot schema does not know partition kind 'other'. */
const REFUSES_OTHER = /snapshot: .*kind: Invalid enum value\. Expected [^,]*, received 'other'/;

/**
 * `snapshot` as an older control plane accepts it, given that control plane's refusal
 * (`refusal`, the error message it answered); undefined when the refusal is about something else.
 */
export function snapshotForOlderControlPlane(snapshot: unknown, refusal: string): unknown {
  if (!REFUSES_OTHER.test(refusal) || !isObject(snapshot) || !Array.isArray(snapshot.partitions)) return undefined;
  if (!snapshot.partitions.some((p: unknown) => isObject(p) && p.kind === 'other')) return undefined;
  return {
    ...snapshot,
    partitions: snapshot.partitions.map((p: unknown) =>
      isObject(p) && p.kind === 'other' ? { ...p, kind: 'dynamic' } : p,
    ),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The refusal of a control plane whose ReportCodeLocationInput has no keysBounded. */
const REFUSES_KEYS_BOUNDED = /"keysBounded" is not defined by type "ReportCodeLocationInput"/;

export function refusesKeysBounded(refusal: string): boolean {
  return REFUSES_KEYS_BOUNDED.test(refusal);
}
