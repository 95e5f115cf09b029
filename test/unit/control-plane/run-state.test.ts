// The run status machine, exhaustively: every (from, to) pair and every (status, event) pair.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyEvent,
  checkTransition,
  isTerminal,
  RUN_STATUSES,
  transition,
  type RunStatus,
} from '../../../src/control-plane/core/run-state.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { RUN_EVENT_TYPES } from '../../../src/shared/run-events.js';

// The intended machine, written out independently of the implementation's table.
const LEGAL = new Set([
  'QUEUED>STARTING',
  'QUEUED>STARTED',
  'QUEUED>FAILURE',
  'QUEUED>CANCELING',
  'QUEUED>CANCELED',
  'STARTING>STARTED',
  'STARTING>SUCCESS',
  'STARTING>FAILURE',
  'STARTING>CANCELING',
  'STARTING>CANCELED',
  'STARTED>SUCCESS',
  'STARTED>FAILURE',
  'STARTED>CANCELING',
  'STARTED>CANCELED',
  'CANCELING>SUCCESS',
  'CANCELING>FAILURE',
  'CANCELING>CANCELED',
]);

test('every status pair: legal moves change, repeats are no-ops, the rest are rejected with a code', () => {
  let checked = 0;
  for (const from of RUN_STATUSES) {
    for (const to of RUN_STATUSES) {
      checked++;
      const r = checkTransition(from, to);
      if (from === to) {
        assert.deepEqual(r, { ok: true, status: from, changed: false }, `${from}>${to}`);
        assert.deepEqual(transition(from, to), { status: from, changed: false });
      } else if (LEGAL.has(`${from}>${to}`)) {
        assert.deepEqual(r, { ok: true, status: to, changed: true }, `${from}>${to}`);
      } else {
        assert.equal(r.ok, false, `${from}>${to} should be illegal`);
        assert.throws(
          () => transition(from, to),
          (e: unknown) =>
            isOutpostError(e, 'ILLEGAL_RUN_TRANSITION') && e.code === 'OUTPOST_ERR_ILLEGAL_RUN_TRANSITION',
        );
      }
    }
  }
  assert.equal(checked, 49);
});

test('terminal statuses allow nothing but a repeat', () => {
  for (const s of ['SUCCESS', 'FAILURE', 'CANCELED'] as RunStatus[]) {
    assert.ok(isTerminal(s));
    for (const to of RUN_STATUSES) if (to !== s) assert.equal(checkTransition(s, to).ok, false);
  }
  for (const s of ['QUEUED', 'STARTING', 'STARTED', 'CANCELING'] as RunStatus[]) assert.ok(!isTerminal(s));
});

test('events drive status; non-status events and impossible ones leave it alone', () => {
  const expected: Record<RunStatus, Partial<Record<string, RunStatus>>> = {
    QUEUED: { RUN_START: 'STARTED', RUN_SUCCESS: 'QUEUED', RUN_FAILURE: 'FAILURE', RUN_CANCELED: 'CANCELED' },
    STARTING: { RUN_START: 'STARTED', RUN_SUCCESS: 'SUCCESS', RUN_FAILURE: 'FAILURE', RUN_CANCELED: 'CANCELED' },
    STARTED: { RUN_START: 'STARTED', RUN_SUCCESS: 'SUCCESS', RUN_FAILURE: 'FAILURE', RUN_CANCELED: 'CANCELED' },
    // The stop request is not forgotten by a late RUN_START; a run that finished first keeps its outcome.
    CANCELING: { RUN_START: 'CANCELING', RUN_SUCCESS: 'SUCCESS', RUN_FAILURE: 'FAILURE', RUN_CANCELED: 'CANCELED' },
    SUCCESS: {},
    FAILURE: {},
    CANCELED: {},
  };
  for (const s of RUN_STATUSES) {
    for (const type of RUN_EVENT_TYPES) {
      const want = expected[s][type] ?? s;
      assert.equal(applyEvent(s, type), want, `${s} + ${type}`);
    }
  }
});
