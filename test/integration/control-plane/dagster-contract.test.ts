// The Dagster contract on the control-plane side, over GraphQL with an agent answering through
// the real agent API, on SQLite and PostgreSQL: deploying Dagster pointers, kind and version,
// assets with their latest materialization, launching an asset selection, run config checked by
// the location (Dagster's own message back), and refusals that leave nothing behind.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachDialect } from '../../support/storage.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { DAGSTER_SNAPSHOT, answerNext, claim, counts, loadedDagsterLocation } from './dagster-location.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';

const DEPLOY = `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { name kind spec } }`;
const LAUNCH = `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id job } }`;

describeEachDialect('Dagster contract (control plane)', (target) => {
  let h: Harness;
  let agentId: string;
  before(async () => {
    h = await openHarness(await target.freshUrl(), { storeLimits: { locationQueryWaitMs: 4000 } });
    agentId = await loadedDagsterLocation(h);
  });
  after(() => h.close());

  test('deploy: exactly one pointer, no module/command beside it; a refusal stores nothing', async () => {
    const before = await counts(h);
    for (const dagster of [
      { python: '/venv/bin/python', moduleName: 'a', pythonFile: 'b.py' },
      { python: '/venv/bin/python' },
    ]) {
      const res = await h.gql('user', DEPLOY, { i: { name: 'two', dagster } });
      assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT', JSON.stringify(res));
      assert.match(res.errors[0].message, /pythonFile, moduleName and packageName/);
    }
    const mixed = await h.gql('user', DEPLOY, {
      i: { name: 'mixed', module: 'x.ts', dagster: { python: '/venv/bin/python', moduleName: 'a' } },
    });
    assert.equal(mixed.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    assert.match(mixed.errors[0].message, /`module`/);
    assert.deepEqual(await counts(h), before);
  });

  test('deploy: a relative pythonFile is stored resolved against an absolute working directory', async () => {
    const res = await h.gql<{ deployCodeLocation: { kind: string; spec: { dagster: Record<string, string> } } }>(
      'user',
      DEPLOY,
      {
        i: {
          name: 'file-loc',
          dagster: { python: '/venv/bin/python', pythonFile: 'defs/app.py', workingDirectory: '/srv/code' },
        },
      },
    );
    assert.equal(res.data?.deployCodeLocation.kind, 'DAGSTER', JSON.stringify(res));
    assert.equal(res.data.deployCodeLocation.spec.dagster.pythonFile, '/srv/code/defs/app.py');
    await h.gql('user', 'mutation { deleteCodeLocation(name: "file-loc") { name } }');
    // Drain its SYNC item so later claims see only what the tests enqueue.
    await claim(h, agentId, 0);
  });

  test('kind, dagsterVersion and assets (OUTPOST locations report none)', async () => {
    const r = await h.gql<{ codeLocation: Record<string, unknown> }>(
      'user',
      `{ codeLocation(name: "dag") { kind dagsterVersion assets { key groupName description deps jobNames lastMaterialization { runId } } } }`,
    );
    assert.deepEqual(r.data?.codeLocation, {
      kind: 'DAGSTER',
      dagsterVersion: '1.13.29',
      assets: [
        {
          key: 'raw/customers',
          groupName: 'ingest',
          description: 'customers',
          deps: [],
          jobNames: ['__ASSET_JOB', 'customer_job'],
          lastMaterialization: null,
        },
        {
          key: 'summary',
          groupName: null,
          description: '',
          deps: ['raw/customers'],
          jobNames: ['__ASSET_JOB'],
          lastMaterialization: null,
        },
      ],
    });
  });

  test('assetSelection: an unknown key is refused before anything exists, naming every unknown key', async () => {
    const before = await counts(h);
    const res = await h.gql('user', LAUNCH, { i: { location: 'dag', assetSelection: ['summary', 'nope', 'x/y'] } });
    assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNKNOWN_ASSET', JSON.stringify(res));
    assert.match(res.errors[0].message, /"nope", "x\/y"/);
    assert.deepEqual(res.errors[0].extensions?.data, { unknown: ['nope', 'x/y'] });
    assert.deepEqual(await counts(h), before);
    const noJob = await h.gql('user', LAUNCH, { i: { location: 'dag' } });
    assert.equal(noJob.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    const wrongJob = await h.gql('user', LAUNCH, {
      i: { location: 'dag', job: 'customer_job', assetSelection: ['summary'] },
    });
    assert.equal(wrongJob.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    assert.deepEqual(await counts(h), before);
  });

  test('assetSelection without a job targets __ASSET_JOB; the plan is asked with the selection; materializations show', async () => {
    const launch = h.gql<{ launchRun: { id: string; job: string } }>('user', LAUNCH, {
      i: { location: 'dag', assetSelection: ['summary'] },
    });
    const plan = await answerNext(h, agentId, 'QUERY_CODE_LOCATION', () => ({ result: { answer: [] } }));
    assert.deepEqual(plan.payload, {
      location: 'dag',
      job: '__ASSET_JOB',
      query: 'executionPlan',
      runConfig: {},
      assetSelection: ['summary'],
    });
    const res = await launch;
    assert.equal(res.data?.launchRun.job, '__ASSET_JOB', JSON.stringify(res));
    const runId = res.data.launchRun.id;
    const [item] = (await claim(h, agentId, 1000)).filter((w) => w.kind === 'LAUNCH_RUN');
    assert.deepEqual(item?.payload.assetSelection, ['summary']);
    await h.gql(
      'agent',
      `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }`,
      {
        a: agentId,
        i: item.id,
        w: runWorkflowId(runId),
      },
    );
    await h.gql('agent', 'mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r) }', {
      a: agentId,
      r: runId,
    });
    const t = h.clock.now;
    const events = [
      { seq: 1, type: 'RUN_START', timestamp: t },
      { seq: 2, type: 'ASSET_MATERIALIZATION', timestamp: t + 5, stepKey: 'summary', assetKey: 'summary' },
      { seq: 3, type: 'ASSET_OBSERVATION', timestamp: t + 6, assetKey: 'raw/customers' },
    ];
    const append = `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq } }`;
    for (let i = 0; i < 2; i++) {
      // Twice: a batch re-sent (the agent never saw the answer) records nothing twice.
      const r = await h.gql('agent', append, { a: agentId, r: runId, e: events });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    }
    const q = await h.gql<{
      codeLocation: { assets: Array<{ key: string; lastMaterialization: unknown }> };
      run: { events: unknown[] };
    }>(
      'user',
      `query($r: ID!) { codeLocation(name: "dag") { assets { key lastMaterialization { runId timestamp } } }
         run(id: $r) { events { type assetKey } } }`,
      { r: runId },
    );
    assert.deepEqual(q.data?.codeLocation.assets, [
      { key: 'raw/customers', lastMaterialization: null },
      { key: 'summary', lastMaterialization: { runId, timestamp: t + 5 } },
    ]);
    assert.deepEqual(
      q.data?.run.events.filter((e) => (e as { type: string }).type !== 'ENGINE'),
      [
        { type: 'RUN_START', assetKey: null },
        { type: 'ASSET_MATERIALIZATION', assetKey: 'summary' },
        { type: 'ASSET_OBSERVATION', assetKey: 'raw/customers' },
      ],
    );
    const rows = await h.store.db.selectFrom('asset_events').selectAll().where('run_id', '=', runId).execute();
    assert.equal(rows.length, 2);
  });

  test("asset checks: each with its latest evaluation (passed, or failed at its severity, with metadata), from the runs' check events", async () => {
    const launch = h.gql<{ launchRun: { id: string } }>('user', LAUNCH, {
      i: { location: 'dag', assetSelection: ['summary'] },
    });
    await answerNext(h, agentId, 'QUERY_CODE_LOCATION', () => ({ result: { answer: [] } }));
    const runId = (await launch).data!.launchRun.id;
    const [item] = (await claim(h, agentId, 1000)).filter((w) => w.kind === 'LAUNCH_RUN');
    await h.gql(
      'agent',
      `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }`,
      {
        a: agentId,
        i: item!.id,
        w: runWorkflowId(runId),
      },
    );
    await h.gql('agent', 'mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r) }', {
      a: agentId,
      r: runId,
    });
    const t = h.clock.now;
    // As the run worker's shim writes them: ENGINE events keyed by the checked asset.
    const checkEvent = (
      seq: number,
      name: string,
      passed: boolean,
      severity: string,
      ts: number,
      metadata?: object,
    ) => ({
      seq,
      type: 'ENGINE',
      timestamp: ts,
      stepKey: `summary_${name}`,
      assetKey: 'summary',
      level: passed ? 'debug' : 'warn',
      message: `Asset check '${name}' on 'summary' ${passed ? 'passed' : 'did not pass'}.`,
      data: {
        dagsterEventType: 'ASSET_CHECK_EVALUATION',
        assetCheck: { name, assetKey: 'summary', passed, severity },
        ...(metadata ? { metadata } : {}),
      },
    });
    const events = [
      { seq: 1, type: 'RUN_START', timestamp: t },
      checkEvent(2, 'no_negatives', true, 'ERROR', t + 1),
      checkEvent(3, 'fresh', false, 'ERROR', t + 2),
      // The same check again later in the run: the later one is the latest.
      checkEvent(4, 'no_negatives', false, 'WARN', t + 3, { bad_count: 2 }),
    ];
    const append = `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq } }`;
    const r = await h.gql('agent', append, { a: agentId, r: runId, e: events });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const q = await h.gql<{ codeLocation: { assets: Array<{ key: string; checks: unknown[] }> } }>(
      'user',
      `{ codeLocation(name: "dag") { assets { key checks { name description blocking
           lastEvaluation { runId timestamp passed severity metadata } } } } }`,
    );
    assert.equal(q.errors, undefined, JSON.stringify(q.errors));
    const byKey = Object.fromEntries(q.data!.codeLocation.assets.map((a) => [a.key, a.checks]));
    assert.deepEqual(byKey['raw/customers'], []);
    assert.deepEqual(byKey.summary, [
      {
        name: 'no_negatives',
        description: 'no negative totals',
        blocking: false,
        lastEvaluation: { runId, timestamp: t + 3, passed: false, severity: 'WARN', metadata: { bad_count: 2 } },
      },
      {
        name: 'fresh',
        description: '',
        blocking: true,
        lastEvaluation: { runId, timestamp: t + 2, passed: false, severity: 'ERROR', metadata: null },
      },
      { name: 'never_run', description: '', blocking: false, lastEvaluation: null },
    ]);
  });

  test('Dagster run config goes to the location, not the strict JSON Schema: Dagster-style config is accepted', async () => {
    // `execution` is valid Dagster config the converted schema does not list: the strict
    // check would refuse it; the location (Dagster) is the judge.
    const runConfig = { ops: { greet: { config: { name: 'x' } } }, execution: { config: { in_process: {} } } };
    for (const cfg of [{ ops: { greet: { config: { name: 'x' } } } }, runConfig]) {
      const launch = h.gql<{ launchRun: { id: string } }>('user', LAUNCH, {
        i: { location: 'dag', job: 'greeting_job', runConfig: cfg },
      });
      const plan = await answerNext(h, agentId, 'QUERY_CODE_LOCATION', () => ({ result: { answer: [] } }));
      assert.deepEqual(plan.payload.runConfig, cfg);
      const res = await launch;
      assert.ok(res.data?.launchRun.id, JSON.stringify(res));
    }
    await claim(h, agentId, 0); // the two launches
    // The schema is shown as converted, not closed by the strict form (which adds additionalProperties: false).
    const job = await h.gql<{ codeLocation: { jobs: Array<{ name: string; configSchema: unknown }> } }>(
      'user',
      '{ codeLocation(name: "dag") { jobs { name configSchema } } }',
    );
    const greeting = job.data?.codeLocation.jobs.find((j) => j.name === 'greeting_job');
    assert.deepEqual(greeting?.configSchema, DAGSTER_SNAPSHOT.jobs[0]!.configSchema);
  });

  test("invalid Dagster config is refused with Dagster's own message, before any run exists", async () => {
    const before = await counts(h);
    const message = 'Error 1: Received unexpected config entry "nme" at path root:ops:greet:config.';
    const launch = h.gql('user', LAUNCH, {
      i: { location: 'dag', job: 'greeting_job', runConfig: { ops: { greet: { config: { nme: 'x' } } } } },
    });
    await answerNext(h, agentId, 'QUERY_CODE_LOCATION', () => ({
      error: { code: 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION', message },
    }));
    const res = await launch;
    assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION', JSON.stringify(res));
    assert.ok(res.errors[0].message.includes(message), res.errors[0].message);
    const after = await counts(h);
    // Only the (finished) query item was added: no run, no launch.
    assert.deepEqual({ ...after, items: after.items - 1 }, before);
  });

  test('no agent answers the config check: NO_AGENT_ANSWER, no run', async () => {
    const fast = await openHarness(await target.freshUrl(), { storeLimits: { locationQueryWaitMs: 300 } });
    try {
      await loadedDagsterLocation(fast);
      const res = await fast.gql('user', LAUNCH, { i: { location: 'dag', job: 'greeting_job', runConfig: {} } });
      assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_NO_AGENT_ANSWER', JSON.stringify(res));
      assert.equal((await counts(fast)).runs, 0);
    } finally {
      await fast.close();
    }
  });

  test('an op selection is launched only when the planning agent says it launches the subset; an older agent is refused', async () => {
    const launch = () =>
      h.gql<{ launchRun: { id: string } }>('user', LAUNCH, {
        i: { location: 'dag', job: 'greeting_job', opSelection: ['greet', 'greet'] },
      });
    // An agent from before op selection plans the subset (it took opSelection on plans) and
    // answers without saying it launches one: it would run every op of the job.
    const before = await counts(h);
    const old = launch();
    const plan = await answerNext(h, agentId, 'QUERY_CODE_LOCATION', () => ({ result: { answer: [] } }));
    assert.deepEqual(plan.payload.opSelection, ['greet']);
    const refused = await old;
    assert.equal(refused.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_AGENT_UPGRADE_REQUIRED', JSON.stringify(refused));
    const after = await counts(h);
    assert.deepEqual({ ...after, items: after.items - 1 }, before, 'only the query item; no run');

    const current = launch();
    await answerNext(h, agentId, 'QUERY_CODE_LOCATION', () => ({ result: { answer: [], launchesOpSelection: true } }));
    const res = await current;
    assert.equal(res.errors, undefined, JSON.stringify(res));
    const runId = res.data!.launchRun.id;
    const [item] = (await claim(h, agentId, 1000)).filter((w) => w.kind === 'LAUNCH_RUN' && w.runId === runId);
    assert.deepEqual(item?.payload.opSelection, ['greet']);
    const shown = await h.gql<{ run: { opSelection: string[] | null; assetSelection: string[] | null } }>(
      'user',
      `query($id: ID!) { run(id: $id) { opSelection assetSelection } }`,
      { id: runId },
    );
    assert.deepEqual(shown.data?.run, { opSelection: ['greet'], assetSelection: null });
  });

  test('an asset selection too large for a workflow input is refused before the location is asked; nothing is queued', async () => {
    // Every key is the location's own: a location with very many assets, all selected.
    const keys = Array.from(
      { length: 2_000 },
      (_, i) => `warehouse/a_rather_long_table_name_${String(i).padStart(5, '0')}`,
    );
    const wide = await openHarness(await target.freshUrl(), { storeLimits: { locationQueryWaitMs: 300 } });
    try {
      await loadedDagsterLocation(wide, 'wide', {
        ...DAGSTER_SNAPSHOT,
        assets: keys.map((key) => ({ key, description: '', deps: [], jobNames: ['__ASSET_JOB'] })),
      });
      const before = await counts(wide);
      const res = await wide.gql('user', LAUNCH, { i: { location: 'wide', assetSelection: keys } });
      assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INPUT_TOO_LARGE', JSON.stringify(res).slice(0, 500));
      assert.match(res.errors[0].message, /maxQuerySelectionBytes/);
      assert.deepEqual(await counts(wide), before, 'no query item, no run');
    } finally {
      await wide.close();
    }
  });
});
