// Which coded errors an activity's retry policy may retry (activities/failures.ts), and how a
// coded answer from the control plane becomes the agent's error (control-plane-client.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toFailure } from '../../../activities/failures.js';
import { ControlPlaneResponseError, toOutpostError } from '../../../src/agent/control-plane-client.js';
import { OutpostError, errorCode, type ErrorName } from '../../../src/shared/errors.js';

describe('activity failures', () => {
  test('a dependency that is down for now is retried: the control plane, its database, Temporal, a code server', () => {
    const down: ErrorName[] = [
      'CONTROL_PLANE_UNAVAILABLE',
      'POSTGRES_UNAVAILABLE',
      'POSTGRES_REFUSED',
      'STORE_CLOSED',
      'TEMPORAL_UNAVAILABLE',
      'CODE_SERVER_UNAVAILABLE',
    ];
    for (const name of down) {
      const f = toFailure(new OutpostError(name, { detail: 'connect ECONNREFUSED 127.0.0.1:5432' }));
      assert.equal(f.type, errorCode(name));
      assert.equal(f.nonRetryable, false, `${name} is retried`);
    }
  });

  test('an answer that will not change is not retried', () => {
    for (const name of ['UNKNOWN_JOB', 'INVALID_ARGUMENT', 'UNKNOWN_KIND'] as ErrorName[]) {
      assert.equal(toFailure(new OutpostError(name)).nonRetryable, true, `${name} fails for good`);
    }
  });

  test("the control plane's coded answer keeps its code and says its message once", () => {
    const answer = new ControlPlaneResponseError(503, [
      {
        message: 'PostgreSQL could not be reached: connect ECONNREFUSED 127.0.0.1:5432',
        extensions: { code: 'OUTPOST_ERR_POSTGRES_UNAVAILABLE' },
      },
    ]);
    const err = toOutpostError(answer, 'http://127.0.0.1:3000/agent/graphql');
    assert.equal(err.code, 'OUTPOST_ERR_POSTGRES_UNAVAILABLE');
    assert.equal(err.message, 'PostgreSQL could not be reached: connect ECONNREFUSED 127.0.0.1:5432');
    assert.match(err.hint, /OUTPOST_DATABASE_URL/);
  });
});
