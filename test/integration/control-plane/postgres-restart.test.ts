// A control plane on a PostgreSQL that stops and starts again: it must outlive the stop (pg
// reports a connection the server ended as an 'error' event, which unheard killed the process),
// answer what it cannot do meanwhile with POSTGRES_UNAVAILABLE and its hint (it answered
// INTERNAL, "report this", and logged a stack per request), and serve again once the server is
// back, by itself; no answer names the database's address (a VIEWER's, an agent's, /metrics'
// without a token all did), only the log. A real PostgreSQL of this test's own; a real control
// plane on a real port.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { capturedLogger } from '../../support/captured-log.js';
import { startPostgres, type PgCluster } from '../../support/postgres.js';
import { postgresSkipReason } from '../../support/storage.js';
import { until } from '../../support/wait.js';

describe('control plane across a PostgreSQL restart', { skip: postgresSkipReason() }, () => {
  let pg: PgCluster;
  let cp: ControlPlane;
  let token: string;
  let agentToken: string;
  const log = capturedLogger('control-plane', 'warn');

  before(async () => {
    pg = await startPostgres();
    cp = await startControlPlane({ databaseUrl: pg.url, port: 0, logger: log.logger, daemon: false });
    token = await cp.issueToken('user', 'restart-test', 'VIEWER');
    agentToken = await cp.issueToken('agent', 'restart-agent');
  });
  after(async () => {
    await cp?.close();
    pg?.stop();
  });

  const runsQuery = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ runs(first: 1) { nodes { id } } }' }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  test('outlives the stop with connections idle and checked out, answers 503 POSTGRES_UNAVAILABLE, then serves again', async () => {
    assert.equal((await runsQuery()).status, 200);
    // A transaction holds a connection while the server stops (the pool holds idle ones too).
    const held = cp.store.db
      .transaction()
      .execute(async (trx) => {
        await sql`SELECT 1`.execute(trx);
        pg.pause();
        // Let the sockets' ends arrive: the events that killed the process came here.
        await new Promise((r) => setTimeout(r, 500));
        await sql`SELECT 1`.execute(trx);
      })
      .then(
        () => 'committed',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
    try {
      assert.notEqual(await held, 'committed');
      const down = await runsQuery();
      const error = (down.body.errors as Array<{ extensions: { code: string; http: number; hint: string } }>)[0]!;
      assert.equal(error.extensions.code, 'OUTPOST_ERR_POSTGRES_UNAVAILABLE', JSON.stringify(down.body));
      assert.equal(error.extensions.http, 503);
      assert.match(error.extensions.hint, /OUTPOST_DATABASE_URL/);
      const ready = await fetch(`${cp.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { code?: string }).code, 'OUTPOST_ERR_POSTGRES_UNAVAILABLE');
      // Any caller (a VIEWER, an agent, /metrics without a token) learns what to do, not where
      // the database is; the operator's log has the address.
      const { host, port } = new URL(pg.url);
      const where = new RegExp(`${host.replace(/\./g, '\\.')}|${port}`);
      const answers = [
        JSON.stringify(down.body),
        await (await fetch(`${cp.url}/metrics`)).text(),
        await (
          await fetch(`${cp.url}/agent/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken}` },
            body: JSON.stringify({ query: '{ __typename }' }),
          })
        ).text(),
      ];
      for (const a of answers) {
        assert.match(a, /OUTPOST_ERR_POSTGRES_UNAVAILABLE/);
        assert.doesNotMatch(a, where, 'an answer names the database host or port');
      }
      assert.ok(
        log.lines.some((l) => where.test(l)),
        `the log names the address: ${log.lines.join('\n')}`,
      );
    } finally {
      pg.restart();
    }
    await until('ready again', async () => (await fetch(`${cp.url}/readyz`)).status === 200, 30_000, 100);
    assert.equal((await runsQuery()).status, 200);
    const unexpected = log.lines.filter((l) => /unexpected error in a resolver|request failed/.test(l));
    assert.deepEqual(unexpected, []);
  });
});
