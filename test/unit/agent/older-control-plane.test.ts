// An older control plane's refusal of a snapshot naming partition kind 'other' is recognised by
// its code and the path of the field it names (`snapshot: partitions.<i>.kind: ...`, the control
// plane's own form), not by zod's words after it: the refusal a round-11 control plane makes is
// built here as it builds it (its enum, shared/zod-issues.ts), once with zod 3's words and once
// with zod 4's. The real round-11 control plane: test/integration/agent/older-control-plane-partitions.test.ts.
// Before: the words of zod 3 ("Invalid enum value. Expected ..., received 'other'") were matched,
// and a zod 4 refusal was not recognised.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z as z3 } from 'zod';
import { z as z4 } from 'zod/v4';
import { ControlPlaneResponseError, toOutpostError } from '../../../src/agent/control-plane-client.js';
import { snapshotForOlderControlPlane } from '../../../src/agent/older-control-plane.js';
import { OutpostError, isOutpostError } from '../../../src/shared/errors.js';
import { formatZodIssues } from '../../../src/shared/zod-issues.js';

const KINDS = ['static', 'timeWindow', 'dynamic', 'multi'] as const;
const snapshot = {
  jobs: [{ name: 'shard_job', partitions: 'shards' }],
  partitions: [
    { name: 'days', kind: 'timeWindow' },
    { name: 'shards', kind: 'other', dagsterClass: 'ExternalFuturePartitionsDefinitionData' },
  ],
};

/** The round-11 control plane's refusal of `value` (store/locations.ts reportCodeLocation). */
function refusal(schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, value: unknown) {
  const parsed = schema.safeParse(value);
  assert.equal(parsed.success, false);
  const issues = parsed.error as Parameters<typeof formatZodIssues>[0];
  return new OutpostError('INVALID_ARGUMENT', { detail: `snapshot: ${formatZodIssues(issues)}` });
}

const v3 = z3.object({ partitions: z3.array(z3.object({ name: z3.string(), kind: z3.enum(KINDS) })) });
const v4 = z4.object({ partitions: z4.array(z4.object({ name: z4.string(), kind: z4.enum(KINDS) })) });

for (const [zod, schema] of [
  ['zod 3', v3],
  ['zod 4', v4],
] as const) {
  test(`a refusal of kind 'other' in ${zod}'s words: the 'other' sets are sent as 'dynamic'`, () => {
    const err = refusal(schema, snapshot);
    assert.deepEqual(snapshotForOlderControlPlane(snapshot, err), {
      ...snapshot,
      partitions: [snapshot.partitions[0], { ...snapshot.partitions[1], kind: 'dynamic' }],
    });
  });
}

test('a refusal whose words before the issues differ from this agent’s is still recognised by code and path', () => {
  // As the agent's client reads a control plane's answer: the code's message there is not this
  // agent's (so the detail is not split off it), and the issues carry another label.
  const issues = refusal(v4, snapshot).detail!.slice('snapshot: '.length);
  for (const message of [`Argument refused: snapshot: ${issues}`, `Invalid argument: report.snapshot: ${issues}`]) {
    const answer = new ControlPlaneResponseError(200, [
      { message, extensions: { code: 'OUTPOST_ERR_INVALID_ARGUMENT' } },
    ]);
    const err = toOutpostError(answer, 'reportCodeLocation');
    assert.ok(isOutpostError(err, 'INVALID_ARGUMENT'), message);
    assert.deepEqual(snapshotForOlderControlPlane(snapshot, err), {
      ...snapshot,
      partitions: [snapshot.partitions[0], { ...snapshot.partitions[1], kind: 'dynamic' }],
    });
  }
});

test('a refusal about something else, or not coded, changes nothing', () => {
  // The 'other' set is snapshot.partitions[1]: a refusal of set 0's kind, or of a name, is not about it.
  const ofSetZero = refusal(v3, { partitions: [{ name: 'days', kind: 'weekly' }] });
  assert.match(ofSetZero.message, /snapshot: partitions\.0\.kind: /);
  assert.equal(snapshotForOlderControlPlane(snapshot, ofSetZero), undefined);
  const ofName = refusal(v3, {
    partitions: [
      { name: 'days', kind: 'static' },
      { name: 7, kind: 'static' },
    ],
  });
  assert.match(ofName.message, /snapshot: partitions\.1\.name: /);
  assert.equal(snapshotForOlderControlPlane(snapshot, ofName), undefined);
  // Another code, or the same words without a code (not a control plane's answer).
  assert.equal(snapshotForOlderControlPlane(snapshot, new OutpostError('CONTROL_PLANE_UNAVAILABLE')), undefined);
  assert.equal(snapshotForOlderControlPlane(snapshot, new Error(refusal(v3, snapshot).message)), undefined);
});
