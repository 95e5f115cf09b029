// Inputs the agent could never launch or that no one should store are refused with a coded
// error naming the limit, and change nothing: oversized or deeply nested runConfig and tags,
// token names with control/bidi characters or 1 MB long, location names like `..`, unbounded
// heartbeat errors and agent metadata.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type GqlResult, type Harness } from '../../support/control-plane-harness.js';
import { STORE_TABLES } from '../../../src/control-plane/store/schema.js';

describeEachDialect('input limits', (target) => {
  let h: Harness;
  let agentId: string;
  before(async () => {
    h = await openHarness(await target.freshUrl());
    agentId = await loadedLocation(h);
  });
  after(() => h.close());

  async function fingerprint(): Promise<string> {
    const parts: unknown[] = [];
    for (const t of STORE_TABLES) {
      const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(t)}`.execute(h.store.db);
      parts.push(rows.rows.map((r) => JSON.stringify({ ...r, last_used_at: undefined, data: undefined })).sort());
    }
    return JSON.stringify(parts);
  }

  /** Runs `call`, expects the coded error (and the limit named), and no row written. */
  async function refused(call: () => Promise<GqlResult>, code: string, named: RegExp, limit?: string): Promise<void> {
    const before = await fingerprint();
    const r = await call();
    const e = r.errors?.[0];
    assert.equal(e?.extensions?.code, `OUTPOST_ERR_${code}`, JSON.stringify(r).slice(0, 300));
    assert.match(e?.message ?? '', named);
    if (limit) assert.equal(e?.extensions?.data?.limit, limit);
    assert.equal(r.status, 400);
    assert.equal(await fingerprint(), before, 'the database changed');
  }

  const launch = (input: Record<string, unknown>) =>
    h.gql('user', `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`, {
      i: { location: 'hello', job: 'hello', ...input },
    });

  test('launchRun: runConfig over maxRunConfigBytes', () =>
    refused(
      () => launch({ runConfig: { blob: 'x'.repeat(300 * 1024) } }),
      'INPUT_TOO_LARGE',
      /the limit maxRunConfigBytes is 262144 \(raise it with --max-run-config-bytes or OUTPOST_MAX_RUN_CONFIG_BYTES\)/,
      'maxRunConfigBytes',
    ));

  test('launchRun: too many tags, and tags too large', async () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']));
    await refused(() => launch({ tags: many }), 'INPUT_TOO_LARGE', /the limit maxRunTags is 100/, 'maxRunTags');
    await refused(
      () => launch({ tags: { big: 'x'.repeat(20 * 1024) } }),
      'INPUT_TOO_LARGE',
      /the limit maxRunTagsBytes is 16384/,
      'maxRunTagsBytes',
    );
  });

  test('launchRun: a 5,000-deep runConfig is refused by depth, not a stack overflow', async () => {
    // Written by hand: JSON.stringify itself recurses and would overflow on the client side.
    const launch = (depth: number) => async () => {
      const deep = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      const body = `{"query":"mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }","variables":{"i":{"location":"hello","job":"hello","runConfig":${deep}}}}`;
      const res = await h.handler(
        new Request('http://127.0.0.1/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${h.userToken}` },
          body,
        }),
      );
      return { status: res.status, ...((await res.json()) as Omit<GqlResult, 'status'>) };
    };
    // So deep the body itself is refused from its bytes, before it is parsed (body-nesting.test.ts).
    await refused(launch(5000), 'JSON_TOO_DEEP', /maxBodyNesting is 80/, 'maxBodyNesting');
    // Within the body's nesting, past the JSON scalar's.
    await refused(launch(70), 'JSON_TOO_DEEP', /maxJsonDepth is 64/, 'maxJsonDepth');
    // The same as a literal in the document.
    const literal = '{a:'.repeat(100) + '1' + '}'.repeat(100);
    await refused(
      () =>
        h.gql(
          'user',
          `mutation { launchRun(input: { location: "hello", job: "hello", runConfig: ${literal} }) { id } }`,
        ),
      'JSON_TOO_DEEP',
      /maxJsonDepth is 64/,
    );
  });

  test('a run within every limit still launches', async () => {
    const r = await launch({
      job: 'sleepy',
      runConfig: { seconds: 1 },
      tags: { team: 'data', note: 'y'.repeat(1000) },
    });
    assert.equal(r.errors, undefined);
  });

  test('token names: NUL, bidi overrides, 1 MB and empty are refused', async () => {
    const create = (name: string) =>
      h.gql('user', `mutation($n: String!) { createToken(kind: USER, name: $n) { id } }`, { n: name });
    await refused(() => create('ci\u0000admin'), 'INVALID_ARGUMENT', /control, bidi or invisible/);
    await refused(() => create('ci\u202Enimda'), 'INVALID_ARGUMENT', /control, bidi or invisible/);
    await refused(() => create('x'.repeat(1000 * 1000)), 'INPUT_TOO_LARGE', /maxTokenNameLength is 128/);
    await refused(() => create('  '), 'INVALID_ARGUMENT', /must not be empty/);
    const ok = await create('ci – déploiement 🚀');
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
  });

  test('location names: `..`, `.`, separators and overlong names are refused', async () => {
    const deploy = (name: string) =>
      h.gql('user', `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { name } }`, {
        i: { name, module: 'm.ts' },
      });
    for (const name of ['..', '.', 'a/b', '../etc', 'a..b', '.hidden', 'x'.repeat(65)]) {
      await refused(() => deploy(name), 'INVALID_ARGUMENT', /location name/);
    }
    const ok = await deploy('team-a.etl_v2');
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
  });

  test('location specs: a module path, working directory, env or command past maxLocationSpecBytes is refused', async () => {
    // Each was stored whole (up to the 1 MiB body), read by every agent's sync, and its env
    // handed to every process spawned for the location (one variable past 128 KiB: E2BIG).
    const deploy = (i: Record<string, unknown>) =>
      h.gql('user', `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { name } }`, {
        i: { name: 'big', ...i },
      });
    const big = 'x'.repeat(200 * 1024);
    const specs = [
      { module: big },
      { module: 'm.ts', workingDirectory: big },
      { module: 'm.ts', env: { A: big } },
      { module: 'm.ts', env: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`K${i}`, 'v'])) },
      { command: Array.from({ length: 50_000 }, () => 'a') },
    ];
    for (const spec of specs) {
      await refused(
        () => deploy(spec),
        'INPUT_TOO_LARGE',
        /the limit maxLocationSpecBytes is 65536 \(fixed\)/,
        'maxLocationSpecBytes',
      );
    }
    const ok = await deploy({ module: 'm.ts', env: { CERT: 'c'.repeat(8 * 1024) } });
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
  });

  test('heartbeat errors and agent metadata are bounded', async () => {
    const beat = (input: Record<string, unknown>) =>
      h.gql('agent', `mutation($i: HeartbeatInput!) { heartbeat(input: $i) }`, {
        i: { agentId, codeServers: [], runningRunIds: [], ...input },
      });
    await refused(
      () => beat({ errors: Array.from({ length: 51 }, () => 'e') }),
      'INPUT_TOO_LARGE',
      /maxHeartbeatErrors is 50/,
    );
    await refused(() => beat({ errors: ['e'.repeat(5000)] }), 'INPUT_TOO_LARGE', /maxHeartbeatErrorLength is 4096/);
    const register = (metadata: unknown, name = 'a1') =>
      h.gql('agent', `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }`, {
        i: { agentId, name, hostname: 'h', version: '0', taskQueue: 'q1', metadata },
      });
    await refused(() => register({ blob: 'x'.repeat(20 * 1024) }), 'INPUT_TOO_LARGE', /maxAgentMetadataBytes is 16384/);
    await refused(() => register({}, 'a'.repeat(300)), 'INPUT_TOO_LARGE', /maxAgentFieldLength is 256/);
    assert.equal((await beat({ errors: ['one error'] })).errors, undefined);
  });
});
