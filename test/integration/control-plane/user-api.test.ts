// The user API through the fetch handler, on SQLite and PostgreSQL: definitions, deploy and
// reload, stale reports, run listing with filters and cursors, terminateRun in both of its
// paths, schedule/sensor state, agents' health, work items and token admin.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';

describeEachDialect('user API', (target) => {
  let h: Harness;
  let agentId: string;
  before(async () => {
    h = await openHarness(await target.freshUrl());
    agentId = await loadedLocation(h);
  });
  after(() => h.close());

  const launch = async (job = 'hello', tags: Record<string, string> = {}) => {
    const r = await h.gql<{ launchRun: { id: string; status: string } }>(
      'user',
      `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id status } }`,
      { i: { location: 'hello', job, tags, runConfig: job === 'sleepy' ? { seconds: 1 } : {} } },
    );
    if (!r.data) throw new Error(JSON.stringify(r.errors));
    return r.data.launchRun.id;
  };
  const claimAll = async () =>
    (
      await h.gql<{
        claimWork: { id: string; kind: string; runId: string | null; payload: Record<string, unknown> }[];
      }>('agent', `mutation($a: ID!) { claimWork(agentId: $a, limit: 50, waitMs: 0) { id kind runId payload } }`, {
        a: agentId,
      })
    ).data!.claimWork;

  test('a location shows its definitions as reported', async () => {
    const r = await h.gql<{ codeLocation: Record<string, unknown> }>(
      'user',
      `{ codeLocation(name: "hello") { name status version loadError spec
          jobs { name description configSchema ops { name inputs { name fromOp fromOutput } outputs } }
          schedules { name job cron timezone state nextTickAt lastTickAt ticks { id } }
          sensors { name job minIntervalSeconds state cursor ticks { id } } partitions { name } } }`,
    );
    const loc = r.data!.codeLocation as {
      status: string;
      jobs: { name: string; ops: { name: string; inputs: unknown[] }[] }[];
      schedules: { state: string; nextTickAt: number | null }[];
      sensors: { state: string }[];
    };
    assert.equal(loc.status, 'LOADED');
    assert.deepEqual(
      loc.jobs.map((j) => j.name),
      ['hello', 'sleepy'],
    );
    assert.deepEqual(loc.jobs[0]!.ops[1]!.inputs, [{ name: 'x', fromOp: 'a', fromOutput: 'result' }]);
    assert.equal(loc.schedules[0]!.state, 'RUNNING', 'defaultStatus');
    assert.equal(loc.schedules[0]!.nextTickAt, h.clock.now + 60_000, 'next minute boundary');
    assert.equal(loc.sensors[0]!.state, 'STOPPED');
    assert.equal((await h.gql('user', `{ codeLocation(name: "nope") { name } }`)).data?.codeLocation, null);
  });

  test('reload enqueues a sync of the next version; a stale report is ignored', async () => {
    await claimAll();
    const r = await h.gql<{ reloadCodeLocation: { version: number; status: string } }>(
      'user',
      `mutation { reloadCodeLocation(name: "hello") { version status } }`,
    );
    assert.deepEqual(r.data?.reloadCodeLocation, { version: 2, status: 'LOADING' });
    const items = await claimAll();
    assert.deepEqual(
      items.map((i) => [i.kind, i.payload]),
      [['SYNC_CODE_LOCATION', { location: 'hello', version: 2 }]],
    );
    const stale = await h.gql<{ reportCodeLocation: boolean }>(
      'agent',
      `mutation($a: ID!) { reportCodeLocation(input: { agentId: $a, location: "hello", version: 1, status: ERROR, error: "old" }) }`,
      { a: agentId },
    );
    assert.equal(stale.data?.reportCodeLocation, false);
    const loading = await h.gql<{ launchRun: unknown }>(
      'user',
      `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
    );
    assert.equal(loading.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_LOCATION_NOT_LOADED');
    await h.gql(
      'agent',
      `mutation($a: ID!, $s: JSON) { reportCodeLocation(input: { agentId: $a, location: "hello", version: 2, status: LOADED, snapshot: $s }) }`,
      {
        a: agentId,
        s: (await import('../../support/control-plane-harness.js')).SNAPSHOT,
      },
    );
  });

  test('runs: filters and cursor pagination, newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await launch(i % 2 ? 'sleepy' : 'hello', { i: String(i) }));
    const page = async (after: string | null) =>
      (
        await h.gql<{
          runs: {
            nodes: { id: string }[];
            edges: { cursor: string }[];
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
          };
        }>(
          'user',
          `query($after: String) { runs(filter: { job: "sleepy", location: "hello", status: [QUEUED] }, first: 1, after: $after) {
             nodes { id } edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
          { after },
        )
      ).data!.runs;
    const p1 = await page(null);
    assert.deepEqual(
      p1.nodes.map((n) => n.id),
      [ids[3]],
    );
    assert.equal(p1.pageInfo.hasNextPage, true);
    const p2 = await page(p1.pageInfo.endCursor);
    assert.deepEqual(
      p2.nodes.map((n) => n.id),
      [ids[1]],
    );
    assert.equal(p2.pageInfo.hasNextPage, false);
    const run = await h.gql<{ run: { tags: Record<string, string>; runConfig: unknown; job: string } }>(
      'user',
      `query($id: ID!) { run(id: $id) { job tags runConfig } }`,
      { id: ids[1] },
    );
    assert.deepEqual(run.data?.run, { job: 'sleepy', tags: { i: '1' }, runConfig: { seconds: 1 } });
  });

  test('terminateRun cancels an unclaimed launch at once, and asks the agent otherwise', async () => {
    await claimAll();
    const terminate = (id: string) =>
      h.gql<{ terminateRun: { status: string } }>('user', `mutation($id: ID!) { terminateRun(id: $id) { status } }`, {
        id,
      });
    const unclaimed = await launch();
    assert.equal((await terminate(unclaimed)).data?.terminateRun.status, 'CANCELED');
    const launchItems = await h.gql<{ workItems: { status: string; error: { code: string } }[] }>(
      'user',
      `query($r: ID!) { workItems(filter: { runId: $r, kind: LAUNCH_RUN }) { status error { code } } }`,
      { r: unclaimed },
    );
    assert.deepEqual(launchItems.data?.workItems, [{ status: 'FAILED', error: { code: 'OUTPOST_ERR_RUN_CANCELED' } }]);
    const again = await terminate(unclaimed);
    assert.equal(again.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_RUN_NOT_TERMINABLE');

    const claimed = await launch();
    assert.deepEqual(
      (await claimAll()).map((i) => [i.kind, i.runId]),
      [['LAUNCH_RUN', claimed]],
    );
    assert.equal((await terminate(claimed)).data?.terminateRun.status, 'CANCELING');
    assert.equal((await terminate(claimed)).data?.terminateRun.status, 'CANCELING', 'a repeat is harmless');
    assert.deepEqual(
      (await claimAll()).map((i) => [i.kind, i.payload]),
      [['TERMINATE_RUN', { runId: claimed }]],
    );
  });

  test('schedule and sensor state; unknown names are coded errors', async () => {
    const s = await h.gql<{ setScheduleState: { state: string; nextTickAt: number | null } }>(
      'user',
      `mutation { setScheduleState(location: "hello", name: "every_minute", state: STOPPED) { state nextTickAt } }`,
    );
    assert.deepEqual(s.data?.setScheduleState, { state: 'STOPPED', nextTickAt: null });
    const sensor = await h.gql<{ setSensorState: { state: string } }>(
      'user',
      `mutation { setSensorState(location: "hello", name: "files", state: RUNNING) { state } }`,
    );
    assert.equal(sensor.data?.setSensorState.state, 'RUNNING');
    const bad = await h.gql(
      'user',
      `mutation { setScheduleState(location: "hello", name: "nope", state: RUNNING) { state } }`,
    );
    assert.equal(bad.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_SCHEDULE');
    const badLoc = await h.gql(
      'user',
      `mutation { setSensorState(location: "nope", name: "files", state: RUNNING) { state } }`,
    );
    assert.equal(badLoc.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_LOCATION');
  });

  test('agents show heartbeats, and turn unhealthy when they stop', async () => {
    await h.gql(
      'agent',
      `mutation($a: ID!) { heartbeat(input: { agentId: $a, codeServers: [{ location: "hello", status: LOADED }], runningRunIds: ["r1"] }) }`,
      {
        a: agentId,
      },
    );
    const read = async () =>
      (
        await h.gql<{ agents: { id: string; healthy: boolean; codeServers: unknown; runningRunIds: string[] }[] }>(
          'user',
          `{ agents { id name hostname healthy lastHeartbeatAt codeServers runningRunIds } }`,
        )
      ).data!.agents.find((a) => a.id === agentId)!;
    const a = await read();
    assert.equal(a.healthy, true);
    assert.deepEqual(a.codeServers, [{ location: 'hello', status: 'LOADED' }]);
    assert.deepEqual(a.runningRunIds, [], 'a run the agent does not hold is not listed as running on it');
    h.clock.now += 31_000;
    assert.equal((await read()).healthy, false);
    const unknown = await h.gql(
      'agent',
      `mutation { heartbeat(input: { agentId: "agent_nope", codeServers: [], runningRunIds: [] }) }`,
    );
    // Unknown ids get the same answer as another token's agents, so ids cannot be probed.
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_FORBIDDEN');
  });

  test('queryCodeLocation waits for the answer of an agent', async () => {
    await claimAll();
    const asking = h.gql<{ queryCodeLocation: { id: string; status: string; result: unknown } }>(
      'user',
      `mutation { queryCodeLocation(input: { location: "hello", query: PARTITION_NAMES, job: "hello" }, waitMs: 10000) { id status result } }`,
    );
    let item: { id: string; kind: string; payload: Record<string, unknown> } | undefined;
    for (let i = 0; i < 100 && !item; i++) {
      item = (await claimAll()).find((w) => w.kind === 'QUERY_CODE_LOCATION');
      if (!item) await new Promise((r) => setTimeout(r, 20));
    }
    // A page is always asked for: an agent answers a request without `first` with the whole list.
    assert.deepEqual(item?.payload, { location: 'hello', query: 'partitionNames', job: 'hello', first: 1000 });
    await h.gql(
      'agent',
      `mutation($a: ID!, $id: ID!) { completeWork(agentId: $a, id: $id, result: { answer: ["2026-01-01"] }) { id } }`,
      {
        a: agentId,
        id: item.id,
      },
    );
    const answered = (await asking).data!.queryCodeLocation;
    assert.deepEqual(answered, { id: item.id, status: 'COMPLETED', result: { answer: ['2026-01-01'] } });
    const later = await h.gql<{ workItem: { status: string } }>(
      'user',
      `query($id: ID!) { workItem(id: $id) { status } }`,
      {
        id: item.id,
      },
    );
    assert.equal(later.data?.workItem.status, 'COMPLETED');
    const unknown = await h.gql(
      'user',
      `mutation { queryCodeLocation(input: { location: "hello", query: EXECUTION_PLAN, job: "nope" }) { id } }`,
    );
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_JOB');
  });

  test('tokens: created once in plaintext, listed without it, revoked for good', async () => {
    const c = await h.gql<{ createToken: { id: string; token: string; kind: string } }>(
      'user',
      `mutation { createToken(kind: AGENT, name: "ci") { id kind name token } }`,
    );
    const { id, token, kind } = c.data!.createToken;
    assert.equal(kind, 'AGENT');
    assert.match(token, /^opa_[A-Za-z0-9_-]{43}$/);
    const list = await h.gql<{ tokens: Record<string, unknown>[] }>(
      'user',
      `{ tokens { id kind name createdAt revokedAt } }`,
    );
    assert.ok(!JSON.stringify(list).includes(token));
    assert.ok(list.data?.tokens.some((t) => t.id === id && t.revokedAt === null));
    // Authenticated: the call gets as far as the resolver, whose refusal sets the status.
    const live = await h.gql('agent', `query { runCursor(agentId: "x", runId: "x") { lastSeq } }`, {}, token);
    assert.notEqual(live.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNAUTHENTICATED');
    assert.equal(live.status, live.errors?.[0]?.extensions?.http);
    assert.notEqual(live.status, 401);
    const r = await h.gql<{ revokeToken: { revokedAt: number } }>(
      'user',
      `mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }`,
      { id },
    );
    assert.equal(r.data?.revokeToken.revokedAt, h.clock.now);
    assert.equal(
      (await h.gql('agent', `query { runCursor(agentId: "x", runId: "x") { lastSeq } }`, {}, token)).status,
      401,
    );
    const stored = await h.store.db.selectFrom('tokens').select('hash').where('id', '=', id).executeTakeFirstOrThrow();
    assert.match(stored.hash, /^[0-9a-f]{64}$/);
    assert.notEqual(stored.hash, token);
  });
});
