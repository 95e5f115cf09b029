// Bad input gets a clear, coded error naming what is wrong (and the limit, when one is
// exceeded), and changes nothing in the database.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';
import { STORE_TABLES } from '../../../src/control-plane/store/schema.js';

describeEachDialect('bad input', (target) => {
  let h: Harness;
  let agentId: string;
  let runId: string;
  before(async () => {
    h = await openHarness(await target.freshUrl(), {
      limits: { maxBodyBytes: 32 * 1024, maxQueryDepth: 4, maxEventsPerBatch: 10, maxClaimBatch: 5 },
    });
    agentId = await loadedLocation(h);
    const r = await h.gql<{ launchRun: { id: string } }>(
      'user',
      `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
    );
    runId = r.data!.launchRun.id;
  });
  after(() => h.close());

  /** Every row of every table, minus token use times (bumped by authentication itself). */
  async function fingerprint(): Promise<string> {
    const parts: unknown[] = [];
    for (const t of STORE_TABLES) {
      const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(t)}`.execute(h.store.db);
      parts.push(
        rows.rows
          .map((r) =>
            JSON.stringify({
              ...r,
              last_used_at: undefined,
              data: r.data instanceof Uint8Array ? Buffer.from(r.data).toString('hex') : r.data,
            }),
          )
          .sort(),
      );
    }
    return JSON.stringify(parts);
  }

  async function unchanged(fn: () => Promise<void>): Promise<void> {
    const before = await fingerprint();
    await fn();
    assert.equal(await fingerprint(), before, 'the database changed');
  }

  const raw = (path: string, body: string, token = h.userToken) =>
    h.handler(
      new Request(`http://127.0.0.1${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${token}`,
        },
        body,
      }),
    );

  test('malformed GraphQL', () =>
    unchanged(async () => {
      const res = await raw('/graphql', JSON.stringify({ query: 'mutation { launchRun(input: { location: "hello" ' }));
      assert.equal(res.status, 400);
      const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      assert.match(body.errors[0]!.message, /Syntax Error/);
      assert.equal(body.errors[0]!.extensions.code, 'OUTPOST_ERR_BAD_REQUEST');
      assert.equal(body.errors[0]!.extensions.http, 400);
      const notJson = await raw('/agent/graphql', '{"query": ', h.agentToken);
      assert.equal(notJson.status, 400);
    }));

  test('wrong types', () =>
    unchanged(async () => {
      const r = await h.gql('user', `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`, {
        i: { location: 42, job: ['x'] },
      });
      assert.ok(r.errors?.length);
      assert.match(r.errors[0]!.message, /String/);
      const e = await h.gql(
        'agent',
        `mutation { appendRunEvents(agentId: "${agentId}", runId: "${runId}", events: [{ seq: "one", type: "LOG", timestamp: 1 }]) { status } }`,
      );
      assert.match(e.errors?.[0]?.message ?? '', /Int/);
    }));

  test('unknown location, unknown job, config that fails its schema', () =>
    unchanged(async () => {
      const launch = (input: Record<string, unknown>) =>
        h.gql('user', `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`, { i: input });
      const loc = await launch({ location: 'nope', job: 'hello' });
      assert.equal(loc.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_LOCATION');
      const job = await launch({ location: 'hello', job: 'nope' });
      assert.equal(job.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_JOB');
      assert.equal(job.errors?.[0]?.extensions?.http, 404);
      assert.match(job.errors?.[0]?.message ?? '', /nope is not in hello \(jobs: hello, sleepy\)/);
      assert.ok(job.errors?.[0]?.extensions?.hint);
      const cfg = await launch({ location: 'hello', job: 'sleepy', runConfig: { seconds: 'ten', extra: 1 } });
      assert.equal(cfg.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION');
      assert.match(cfg.errors?.[0]?.message ?? '', /\/seconds must be number/);
      const events = await h.gql(
        'agent',
        `mutation { appendRunEvents(agentId: "${agentId}", runId: "run_nope", events: []) { status } }`,
      );
      assert.equal(events.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_RUN');
    }));

  test('oversized body names the limit', () =>
    unchanged(async () => {
      const big = JSON.stringify({ query: `{ runs { nodes { id } } }`, variables: { pad: 'x'.repeat(40 * 1024) } });
      for (const path of ['/graphql', '/agent/graphql']) {
        const res = await raw(path, big, path === '/graphql' ? h.userToken : h.agentToken);
        assert.equal(res.status, 413);
        const body = (await res.json()) as {
          errors: { message: string; extensions: { code: string; data: unknown } }[];
        };
        assert.equal(body.errors[0]!.extensions.code, 'OUTPOST_ERR_BODY_TOO_LARGE');
        assert.match(
          body.errors[0]!.message,
          /the limit maxBodyBytes is 32768 \(raise it with --max-body-bytes or OUTPOST_MAX_BODY_BYTES\)/,
        );
        assert.deepEqual(body.errors[0]!.extensions.data, { limit: 'maxBodyBytes', value: 32768 });
      }
    }));

  test('too-deep query names the limit, through fragments too', () =>
    unchanged(async () => {
      const deep = await h.gql('user', `{ codeLocations { jobs { ops { name } } } runs { nodes { id } } }`);
      assert.equal(deep.errors, undefined, 'depth 4 is within the limit');
      const tooDeep = await h.gql(
        'user',
        `fragment F on Op { inputs { name } } { codeLocations { jobs { ops { ...F } } } runs { edges { node { events { data } } } } }`,
      );
      assert.equal(tooDeep.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_QUERY_TOO_DEEP');
      assert.match(
        tooDeep.errors?.[0]?.message ?? '',
        /the limit maxQueryDepth is 4 \(raise it with --max-query-depth/,
      );
    }));

  test('oversized batches name the limit', () =>
    unchanged(async () => {
      const events = Array.from({ length: 11 }, (_, i) => ({ seq: i + 1, type: 'LOG', timestamp: 1 }));
      const r = await h.gql(
        'agent',
        `mutation($e: [RunEventInput!]!) { appendRunEvents(agentId: "${agentId}", runId: "${runId}", events: $e) { status } }`,
        {
          e: events,
        },
      );
      assert.equal(r.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_BATCH_TOO_LARGE');
      assert.match(r.errors?.[0]?.message ?? '', /maxEventsPerBatch is 10/);
      const c = await h.gql('agent', `mutation { claimWork(agentId: "${agentId}", limit: 6, waitMs: 0) { id } }`);
      assert.match(c.errors?.[0]?.message ?? '', /maxClaimBatch is 5/);
    }));

  test('appendRunEventLines: an oversized batch names the limit, a bad line is named and refused', () =>
    unchanged(async () => {
      const lines = (l: string) =>
        h.gql(
          'agent',
          `mutation($l: String!) { appendRunEventLines(agentId: "${agentId}", runId: "${runId}", lines: $l) { status } }`,
          { l },
        );
      const line = (e: Record<string, unknown>) => JSON.stringify({ type: 'LOG', timestamp: 1, ...e });
      const eleven = Array.from({ length: 11 }, (_, i) => line({ seq: i + 1 })).join('\n');
      const big = await lines(eleven);
      assert.equal(big.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_BATCH_TOO_LARGE');
      assert.match(big.errors?.[0]?.message ?? '', /maxEventsPerBatch is 10/);
      let deep: unknown = 1;
      for (let i = 0; i < 200; i++) deep = { d: deep };
      const bad: Array<[string, RegExp, string?]> = [
        ['{"seq":1,', /lines\[1\]: is not JSON/],
        ['[1,2]', /lines\[1\]: is not a JSON object/],
        [line({ seq: 2, extra: 1 }), /lines\[1\]: unknown field "extra"/],
        [line({ seq: 2.5 }), /lines\[1\]: `seq` must be an Int/],
        [line({ seq: 2 ** 31 }), /lines\[1\]: `seq` must be an Int/],
        [line({ seq: 2, type: 7 }), /lines\[1\]: `type` must be a String/],
        [line({ seq: 2, timestamp: '1' }), /lines\[1\]: `timestamp` must be a Float/],
        [line({ seq: 2, message: { m: 1 } }), /lines\[1\]: `message` must be a String/],
        [line({ seq: 2, data: deep }), /lines\[1\]\.data nests deeper/, 'OUTPOST_ERR_JSON_TOO_DEEP'],
      ];
      for (const [second, message, code = 'OUTPOST_ERR_INVALID_ARGUMENT'] of bad) {
        const r = await lines(`\n${line({ seq: 1 })}\n\n${second}\n`);
        assert.equal(r.errors?.[0]?.extensions?.code, code, second.slice(0, 60));
        assert.match(r.errors?.[0]?.message ?? '', message);
      }
    }));

  test('appendComputeLogs: data that is not standard padded base64 is refused', () =>
    unchanged(async () => {
      for (const d of ['aGVsbG8*', 'aGVsbG8', 'aGVs bG8=', 'aGVsbG8_', 'a===']) {
        const r = await h.gql(
          'agent',
          `mutation($d: String!) { appendComputeLogs(agentId: "${agentId}", runId: "${runId}", stream: STDOUT, offset: 0, data: $d) { storedBytes } }`,
          { d },
        );
        assert.equal(r.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT', d);
        assert.match(r.errors?.[0]?.message ?? '', /standard base64/, d);
      }
    }));

  test('a snapshot that does not match the schema is refused', () =>
    unchanged(async () => {
      const r = await h.gql('agent', `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`, {
        i: { agentId, location: 'hello', version: 1, status: 'LOADED', snapshot: { jobs: 'none' } },
      });
      assert.equal(r.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    }));
});
