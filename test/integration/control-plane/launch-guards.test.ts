// What launchRun refuses and what happens to a launch that never starts, on SQLite and
// PostgreSQL, through the fetch handler: strict run config and partition keys (coded errors,
// nothing written), the reaper for acknowledged launches whose workflow never started, run
// times from event times, and locations no healthy agent can reach.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { createLogger } from '../../../src/shared/logger.js';
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import { describeEachDialect } from '../../support/storage.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';

const SNAPSHOT: LocationSnapshot = {
  jobs: [
    { name: 'hello', description: '', tags: {}, configSchema: {}, ops: [] },
    {
      name: 'sleepy',
      description: '',
      tags: {},
      // As zod/v4 publishes z.object({ seconds }) for input: no additionalProperties.
      configSchema: { type: 'object', properties: { seconds: { type: 'number', default: 5 } } },
      ops: [],
    },
    {
      name: 'greet_region',
      description: '',
      tags: {},
      configSchema: { type: 'object', properties: { region: { type: 'string' } }, required: ['region'] },
      ops: [],
      partitions: 'regions',
    },
  ],
  schedules: [],
  sensors: [],
  partitions: [{ name: 'regions', kind: 'static', keys: ['eu', 'us', 'apac'] }],
};

const DEADLINE_MS = 60_000;

describeEachDialect('launch guards', (target) => {
  let h: Harness;
  let agentId: string;
  let daemon: Daemon;
  before(async () => {
    h = await openHarness(await target.freshUrl(), {
      storeLimits: { maxAttempts: 2, locationQueryWaitMs: 5_000 },
    });
    daemon = new Daemon(h.store, createLogger({ name: 'test', level: 'silent' }), {
      launchDeadlineMs: DEADLINE_MS,
    });
    const dep = await h.gql<{ deployCodeLocation: { version: number } }>(
      'user',
      `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
      { i: { name: 'hello', module: 'examples/hello/definitions.ts' } },
    );
    const reg = await h.gql<{ registerAgent: { agentId: string } }>(
      'agent',
      `mutation { registerAgent(input: { name: "a1", hostname: "h", version: "0", taskQueue: "q1" }) { agentId } }`,
    );
    agentId = reg.data!.registerAgent.agentId;
    // The agent claims the sync item the deploy enqueued (only the agent asked may report it).
    await claim();
    const rep = await h.gql('agent', `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`, {
      i: {
        agentId,
        location: 'hello',
        version: dep.data!.deployCodeLocation.version,
        status: 'LOADED',
        snapshot: SNAPSHOT,
      },
    });
    assert.equal(rep.errors, undefined);
  });
  after(() => h.close());

  const launch = (input: Record<string, unknown>) =>
    h.gql<{ launchRun: { id: string; status: string; tags: Record<string, string> } }>(
      'user',
      `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id status tags } }`,
      { i: { location: 'hello', ...input } },
    );
  // A partition's questions to its location (QUERY_CODE_LOCATION) are asked before any check
  // that needs their answer; they are not counted as writes of the launch.
  const counts = async () => ({
    runs: (await h.store.db.selectFrom('runs').select('id').execute()).length,
    items: (await h.store.db.selectFrom('work_items').select('id').where('kind', '!=', 'QUERY_CODE_LOCATION').execute())
      .length,
  });
  /** Launch while playing the agent for the location's partition queries (config and tags = { region: key }). */
  async function launchAnswered(input: Record<string, unknown>) {
    let done = false;
    const answering = (async () => {
      while (!done) {
        const r = await h.gql<{ claimWork: { id: string; kind: string; payload: Record<string, unknown> }[] }>(
          'agent',
          `mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 0) { id kind payload } }`,
          { a: agentId },
        );
        for (const w of r.data!.claimWork.filter((i) => i.kind === 'QUERY_CODE_LOCATION')) {
          // partitionRun: the partition's config and tags in one answer.
          const region = String(w.payload.partitionKey);
          const answer = { runConfig: { region }, tags: { region } };
          const c = await h.gql(
            'agent',
            `mutation($a: ID!, $id: ID!, $r: JSON!) { completeWork(agentId: $a, id: $id, result: $r) { id } }`,
            {
              a: agentId,
              id: w.id,
              r: { answer },
            },
          );
          assert.equal(c.errors, undefined, JSON.stringify(c.errors));
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    try {
      return await launch(input);
    } finally {
      done = true;
      await answering;
    }
  }
  async function claim(): Promise<{ id: string; kind: string; runId: string | null }[]> {
    const r = await h.gql<{ claimWork: { id: string; kind: string; runId: string | null }[] }>(
      'agent',
      `mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 0) { id kind runId } }`,
      { a: agentId },
    );
    return r.data!.claimWork;
  }
  const ack = (id: string, workflowId: string) =>
    h.gql(
      'agent',
      `mutation($a: ID!, $id: ID!, $w: String!) { ackWork(agentId: $a, id: $id, workflowId: $w) { id } }`,
      {
        a: agentId,
        id,
        w: workflowId,
      },
    );
  type RunFields = {
    status: string;
    startedAt: number | null;
    endedAt: number | null;
    durationMs: number | null;
    launchError: { code: string; message: string } | null;
    events: { type: string; message: string | null; data: Record<string, unknown> | null }[];
  };
  const getRun = async (id: string) =>
    (
      await h.gql<{ run: RunFields }>(
        'user',
        `query($id: ID!) { run(id: $id) { status startedAt endedAt durationMs launchError { code message } events { type message data } } }`,
        { id },
      )
    ).data!.run;

  test('unknown config keys are refused, in the API, and nothing is written', async () => {
    const before = await counts();
    for (const [job, runConfig] of [
      ['sleepy', { seconds: 1, secnods: 2 }],
      ['hello', { anything: true }],
      ['greet_region', { region: 'eu', extra: 1 }],
    ] as const) {
      const r = await (job === 'greet_region' ? launchAnswered : launch)({
        job,
        runConfig,
        ...(job === 'greet_region' ? { partitionKey: 'eu' } : {}),
      });
      assert.equal(r.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION', job);
    }
    assert.deepEqual(await counts(), before);
    const ok = await launch({ job: 'sleepy', runConfig: { seconds: 1 } });
    assert.equal(ok.errors, undefined);
    const schema = await h.gql<{ codeLocation: { jobs: { name: string; configSchema: Record<string, unknown> }[] } }>(
      'user',
      `{ codeLocation(name: "hello") { jobs { name configSchema } } }`,
    );
    const sleepy = schema.data!.codeLocation.jobs.find((j) => j.name === 'sleepy')!;
    assert.equal(sleepy.configSchema.additionalProperties, false, 'the form sees the schema the API checks');
  });

  test('an op selection of an Outpost job is refused (it runs whole), and nothing is written', async () => {
    const before = await counts();
    const r = await launch({ job: 'sleepy', runConfig: { seconds: 1 }, opSelection: ['nap'] });
    assert.equal(r.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    assert.match(
      r.errors?.[0]?.message ?? '',
      /`opSelection` runs some ops of a Dagster job; an Outpost job runs whole/,
    );
    assert.deepEqual(await counts(), before);
  });

  test('a partition key outside its set (mars) is refused; a key from the set runs, tagged', async () => {
    const before = await counts();
    for (const input of [
      { partitionKey: 'mars' },
      { tags: { 'outpost/partition': 'mars' } },
      {},
      { partitionKey: 'eu', tags: { 'outpost/partition': 'us' } },
    ]) {
      const r = await launch({ job: 'greet_region', runConfig: { region: 'mars' }, ...input });
      const code = r.errors?.[0]?.extensions?.code;
      assert.ok(
        code === 'OUTPOST_ERR_UNKNOWN_PARTITION' || code === 'OUTPOST_ERR_INVALID_ARGUMENT',
        `${JSON.stringify(input)}: ${JSON.stringify(r.errors)}`,
      );
    }
    const mars = await launch({ job: 'greet_region', runConfig: { region: 'mars' }, partitionKey: 'mars' });
    assert.match(mars.errors![0]!.message, /"mars" is not in regions \(keys: eu, us, apac\)/);
    // The key is checked before the config: without config, mars is named as the problem (not
    // the `region` the partition would have supplied).
    const bare = await launch({ job: 'greet_region', partitionKey: 'mars' });
    assert.equal(bare.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_PARTITION', JSON.stringify(bare.errors));
    const unpartitioned = await launch({ job: 'hello', partitionKey: 'eu' });
    assert.equal(unpartitioned.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_PARTITION');
    assert.deepEqual(await counts(), before);
    const eu = await launchAnswered({ job: 'greet_region', partitionKey: 'eu' });
    assert.equal(eu.data?.launchRun.tags['outpost/partition'], 'eu');
    assert.equal(eu.data?.launchRun.tags.region, 'eu', "the partition's tags");
  });

  test('a partition launch nobody answers is refused with NO_AGENT_ANSWER, and no run is written', async () => {
    await claim(); // earlier launches, so only the new queries stay queued
    const before = await counts();
    const t0 = Date.now();
    const r = await launch({ job: 'greet_region', partitionKey: 'us' });
    assert.equal(r.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_NO_AGENT_ANSWER', JSON.stringify(r.errors));
    assert.match(r.errors?.[0]?.message ?? '', /partitionRun for greet_region partition "us" .*within 5000 ms/);
    assert.ok(Date.now() - t0 < 15_000, 'bounded by locationQueryWaitMs');
    assert.deepEqual(await counts(), before);
    // Nobody reads its answer any more: the query is FAILED, not left QUEUED for a later agent.
    const id = /work item (\S+) was still QUEUED/.exec(r.errors?.[0]?.message ?? '')?.[1];
    assert.ok(id, r.errors?.[0]?.message);
    const item = await h.store.db.selectFrom('work_items').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(item.status, 'FAILED');
    assert.equal((JSON.parse(item.error ?? '{}') as { code?: string }).code, 'OUTPOST_ERR_NO_AGENT_ANSWER');
    assert.ok(!(await claim()).some((w) => w.id === id), 'no agent is handed it');
  });

  test('an acked launch whose workflow never starts is queued again, then fails with RUN_LAUNCH_TIMEOUT', async () => {
    await claim(); // clear earlier tests' launches from the queue
    const run = await launch({ job: 'hello' });
    const runId = run.data!.launchRun.id;
    const launchedOk = (await launch({ job: 'hello' })).data!.launchRun.id;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const items = await claim();
      const item = items.find((w) => w.runId === runId)!;
      assert.ok(item, `attempt ${attempt}: the launch is claimable`);
      // A correctly named workflow id, but no workflow ever runs: nothing reports the launch.
      assert.equal((await ack(item.id, runWorkflowId(runId))).errors, undefined);
      if (attempt === 1) {
        const other = items.find((w) => w.runId === launchedOk)!;
        await ack(other.id, runWorkflowId(launchedOk));
        await h.gql('agent', `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r) }`, {
          a: agentId,
          r: launchedOk,
        });
      }
      h.clock.now += DEADLINE_MS - 1;
      assert.deepEqual((await daemon.runOnce()).launchesRequeued, [], 'not before the deadline');
      h.clock.now += 1;
      const pass = await daemon.runOnce();
      if (attempt === 1) {
        assert.deepEqual(pass.launchesRequeued, [runId]);
        const r = await getRun(runId);
        assert.equal(r.status, 'QUEUED');
        assert.match(r.events.at(-1)!.message!, /not launched within 60 s.*queued again \(attempt 1 of 2\)/);
      } else assert.deepEqual(pass.launchesFailed, [runId]);
    }
    const failed = await getRun(runId);
    assert.equal(failed.status, 'FAILURE');
    assert.equal(failed.launchError?.code, 'OUTPOST_ERR_RUN_LAUNCH_TIMEOUT');
    assert.match(failed.launchError.message, /2 of 2 attempts/);
    assert.equal(failed.durationMs, null, 'it never started');
    assert.match(failed.events.at(-1)!.message!, /RUN_LAUNCH_TIMEOUT/);
    // The run that did report its launch is left alone.
    assert.equal((await getRun(launchedOk)).status, 'STARTING');
    assert.deepEqual(await claim(), [], 'nothing left to claim');
  });

  test('an agent that re-acks the re-queued launch without claiming it cannot keep it alive', async () => {
    await claim();
    const runId = (await launch({ job: 'hello' })).data!.launchRun.id;
    const item = (await claim()).find((w) => w.runId === runId)!;
    await ack(item.id, runWorkflowId(runId));
    h.clock.now += DEADLINE_MS;
    assert.deepEqual((await daemon.runOnce()).launchesRequeued, [runId]);
    // Re-queued, the item is no longer leased to the agent: its re-ack is refused, changing nothing.
    const reAck = await ack(item.id, runWorkflowId(runId));
    assert.equal(reAck.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED');
    assert.equal(
      (await h.store.db.selectFrom('work_items').select('status').where('id', '=', item.id).executeTakeFirst())?.status,
      'QUEUED',
    );
    // Only a claim takes it again, and counts the attempt: the second one that never starts fails the run.
    assert.ok((await claim()).some((w) => w.id === item.id));
    await ack(item.id, runWorkflowId(runId));
    h.clock.now += DEADLINE_MS;
    assert.deepEqual((await daemon.runOnce()).launchesFailed, [runId], 'failed after 2 attempts');
    const failed = await getRun(runId);
    assert.equal(failed.status, 'FAILURE');
    assert.equal(failed.launchError?.code, 'OUTPOST_ERR_RUN_LAUNCH_TIMEOUT');
  });

  test('start, end and duration are the events own times, however late they arrive', async () => {
    await claim();
    const runId = (await launch({ job: 'hello' })).data!.launchRun.id;
    await claim(); // the agent holding the launch is the one that may ship its events
    const t0 = h.clock.now;
    h.clock.now += 78_000; // shipped a minute and more later (an adopted run's backlog)
    const events = [
      { seq: 1, type: 'RUN_START', timestamp: t0 },
      { seq: 2, type: 'RUN_SUCCESS', timestamp: t0 + 9 },
    ];
    const r = await h.gql(
      'agent',
      `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { status } }`,
      {
        a: agentId,
        r: runId,
        e: events,
      },
    );
    assert.equal(r.errors, undefined);
    const run = await getRun(runId);
    assert.equal(run.status, 'SUCCESS');
    assert.equal(run.startedAt, t0);
    assert.equal(run.endedAt, t0 + 9);
    assert.equal(run.durationMs, 9);
  });

  test('a location is unreachable while no healthy agent reports its code server', async () => {
    const reachable = async () =>
      (await h.gql<{ codeLocation: { reachable: boolean } }>('user', `{ codeLocation(name: "hello") { reachable } }`))
        .data!.codeLocation.reachable;
    const beat = (codeServers: unknown[]) =>
      h.gql('agent', `mutation($i: HeartbeatInput!) { heartbeat(input: $i) }`, {
        i: { agentId, codeServers, runningRunIds: [] },
      });
    await beat([]);
    assert.equal(await reachable(), false, 'the agent is healthy but serves no code server for it');
    await beat([{ location: 'hello', status: 'LOADED' }]);
    assert.equal(await reachable(), true);
    h.clock.now += 3 * h.store.limits.heartbeatIntervalMs + 1;
    assert.equal(await reachable(), false, 'the agent went silent');
  });

  test('a redeployed location is reachable as soon as an agent reports it LOADED, before its next heartbeat', async () => {
    const state = async () =>
      (
        await h.gql<{ codeLocation: { status: string; reachable: boolean } }>(
          'user',
          `{ codeLocation(name: "hello") { status reachable } }`,
        )
      ).data!.codeLocation;
    const beat = () =>
      h.gql('agent', `mutation($i: HeartbeatInput!) { heartbeat(input: $i) }`, {
        i: { agentId, codeServers: [], runningRunIds: [] },
      });
    await beat();
    const dep = await h.gql<{ deployCodeLocation: { version: number } }>(
      'user',
      `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
      { i: { name: 'hello', module: 'examples/hello/definitions.ts', env: { REDEPLOYED: '1' } } },
    );
    assert.deepEqual(await state(), { status: 'LOADING', reachable: false });
    await claim();
    const rep = await h.gql('agent', `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`, {
      i: {
        agentId,
        location: 'hello',
        version: dep.data!.deployCodeLocation.version,
        status: 'LOADED',
        snapshot: SNAPSHOT,
      },
    });
    assert.equal(rep.errors, undefined);
    assert.deepEqual(await state(), { status: 'LOADED', reachable: true }, 'no heartbeat came between');
  });
});
