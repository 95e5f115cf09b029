// The UI of a Dagster code location in a real browser, against a real control plane whose agent
// is played through the agent API: the agent reports the snapshot recorded from a real Dagster
// 1.13 code server serving examples/dagster (mapped by the agent's own snapshot mapper), answers
// test evaluations with the replies recorded from that server, and ships a materialization run's
// events. Checks: kind and Dagster version, the asset list and lineage, "Materialize selected"
// launches a run whose LAUNCH_RUN work item carries the selection, the Dagster launch form, and
// test schedule / test sensor show the evaluation without launching anything.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  readExecutionPlan,
  readListRepositories,
  readScheduleResult,
  readSensorResult,
} from '../../src/agent/dagster/serdes-readers.js';
import { mapDagsterSnapshot } from '../../src/agent/dagster/snapshot-mapper.js';
import type { LocationSnapshot } from '../../src/shared/location-snapshot.js';
import { browserSkipReason, debugShot, launchBrowser, type TestBrowser } from '../support/browser.js';
import type { Vars } from '../support/graphql-call.js';
import { startScriptedStack, type ScriptedStack } from '../support/scripted-agent.js';
import { recorded, repositoryAndJobs } from '../unit/agent/dagster/dagster-fixtures.js';
import { takeDagsterShots } from './ui-dagster-shots.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

const LOC = 'dagster_example';

function recordedSnapshot(): LocationSnapshot {
  const list = readListRepositories(recorded('1.13', 'list-repositories').reply);
  if (!list.ok) throw new Error(list.error.message);
  return mapDagsterSnapshot({ dagsterVersion: list.value.dagsterVersion, ...repositoryAndJobs('1.13') });
}

/** A recorded schedule or sensor reply as the agent answers an EVALUATE_* item. */
function evaluation(
  reply: { runRequests: Array<{ runKey: string | null; jobName: string | null } & Vars>; skipMessage: string | null },
  ownJob: string,
) {
  return {
    runRequests: reply.runRequests.map((r) => ({
      ...(r.runKey ? { runKey: r.runKey } : {}),
      job: r.jobName ?? ownJob,
      runConfig: r.runConfig,
      tags: r.tags,
      ...(r.partitionKey ? { partitionKey: r.partitionKey } : {}),
    })),
    ...(reply.skipMessage ? { skipReason: reply.skipMessage } : {}),
  };
}

interface Claimed {
  id: string;
  kind: string;
  runId: string | null;
  payload: Vars;
}

/** The execution-plan calls recorded from the real server: run config → Dagster's answer. */
function recordedPlans() {
  return ['execution-plan.valid', 'execution-plan.invalid-config'].map((name) => {
    const r = recorded('1.13', name);
    const runConfig = (JSON.parse(r.request) as { run_config: Vars }).run_config;
    return { runConfig, plan: readExecutionPlan(r.reply) };
  });
}

/**
 * Plays the agent's work loop: answers the executionPlan config checks and EVALUATE_* items
 * from the recorded replies, and acks LAUNCH_RUN items and reports them launched (as the agent
 * does); every claimed item is kept for the test to inspect.
 */
function playAgent(s: ScriptedStack) {
  const seen: Claimed[] = [];
  const errors: string[] = [];
  const waiters: Array<{ match: (c: Claimed) => boolean; resolve: (c: Claimed) => void }> = [];
  const schedule = readScheduleResult(recorded('1.13', 'schedule.daily_job_schedule').reply);
  // The sensor evaluations recorded from the cursor they were made with ("41" asks for a run, "abc" skips).
  const sensorByCursor = new Map(
    ['sensor.cursor-41', 'sensor.cursor-abc'].map((name) => {
      const r = recorded('1.13', name);
      const read = readSensorResult(r.reply);
      if (!read.ok) throw new Error(`${name} does not read`);
      return [(JSON.parse(r.request) as { cursor: string }).cursor, read.value] as const;
    }),
  );
  if (!schedule.ok) throw new Error('recorded evaluations do not read');
  const plans = recordedPlans();
  const complete = (id: string, r: unknown) =>
    s.agent('mutation($a: ID!, $id: ID!, $r: JSON!) { completeWork(agentId: $a, id: $id, result: $r) { id } }', {
      a: s.agentId,
      id,
      r,
    });
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { claimWork } = await s.agent<{ claimWork: Claimed[] }>(
        'mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 200) { id kind runId payload } }',
        { a: s.agentId },
      );
      for (const w of claimWork) {
        seen.push(w);
        // A mistake here must fail the test, not stall it: noted, asserted empty at the end.
        try {
          if (w.kind === 'QUERY_CODE_LOCATION' && w.payload.query === 'executionPlan') {
            const rec = plans.find((p) => isDeepStrictEqual(p.runConfig, w.payload.runConfig));
            if (rec?.plan.ok === false) {
              await s.agent(
                'mutation($a: ID!, $id: ID!, $e: WorkErrorInput!) { failWork(agentId: $a, id: $id, error: $e) { id } }',
                {
                  a: s.agentId,
                  id: w.id,
                  e: { code: 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION', message: rec.plan.error.message },
                },
              );
            } else if (rec?.plan.ok) await complete(w.id, { answer: rec.plan.value });
            // No recording plans an asset selection: its plan is one step per selected asset.
            else if (Array.isArray(w.payload.assetSelection))
              await complete(w.id, { answer: { stepKeys: w.payload.assetSelection } });
            else throw new Error(`no recorded execution plan for ${JSON.stringify(w.payload)}`);
          } else if (w.kind === 'EVALUATE_SCHEDULE') await complete(w.id, evaluation(schedule.value, 'daily_job'));
          else if (w.kind === 'EVALUATE_SENSOR') {
            const sensor = sensorByCursor.get(String(w.payload.cursor));
            if (!sensor) throw new Error(`no recorded evaluation from cursor ${String(w.payload.cursor)}`);
            await complete(w.id, { ...evaluation(sensor, 'greeting_job'), cursor: sensor.cursor });
          } else if (w.kind === 'LAUNCH_RUN' && w.runId) {
            await s.agent(
              'mutation($a: ID!, $id: ID!, $w: String!) { ackWork(agentId: $a, id: $id, workflowId: $w) { id } }',
              {
                a: s.agentId,
                id: w.id,
                w: `run-${w.runId}`,
              },
            );
            await s.agent(
              'mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 4242 }) }',
              {
                a: s.agentId,
                r: w.runId,
              },
            );
          }
        } catch (err) {
          errors.push(`${w.kind}: ${String(err)}`);
        }
        for (const x of waiters.splice(0)) {
          if (x.match(w)) x.resolve(w);
          else waiters.push(x);
        }
      }
    }
  })();
  return {
    seen,
    errors,
    /** The first claimed item matching, now or later. */
    item(match: (c: Claimed) => boolean): Promise<Claimed> {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

describe('a Dagster code location in the browser', { skip, timeout: 300_000 }, () => {
  let s: ScriptedStack;
  let b: TestBrowser;
  let agent: ReturnType<typeof playAgent>;
  let beating: ReturnType<typeof setInterval> | undefined;
  const snapshot = recordedSnapshot();
  let materializeRunId = '';

  before(async () => {
    s = await startScriptedStack();
    const d = await s.user<{ deployCodeLocation: { version: number } }>(
      'mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }',
      {
        i: {
          name: LOC,
          dagster: { python: '/usr/bin/python3', pythonFile: 'definitions.py', workingDirectory: 'examples/dagster' },
        },
      },
    );
    await s.report(LOC, d.deployCodeLocation.version, { snapshot });
    await s.heartbeat([LOC]);
    beating = setInterval(() => void s.heartbeat([LOC]).catch(() => undefined), 1000);
    agent = playAgent(s);
    b = await launchBrowser();
    await b.page.goto(`${s.url}/signin`);
    await b.page.locator('#token').fill(s.userToken);
    await b.page.locator('#signin-form button').click();
    await b.page.waitForURL((u) => u.pathname === '/runs');
  });
  after(async () => {
    clearInterval(beating);
    await agent?.stop();
    await b?.close();
    await s?.close();
  });

  test('the locations list and the location page show the kind and the Dagster version', async () => {
    await b.page.goto(`${s.url}/locations`);
    const card = b.page.locator(`[data-location="${LOC}"]`);
    await card.locator('[data-kind="DAGSTER"]').waitFor();
    assert.match(await card.locator('[data-kind]').innerText(), /^DAGSTER 1\.13\.29$/);
    await card.locator('a', { hasText: '2 assets' }).waitFor();
    await b.page.goto(`${s.url}/locations/${LOC}`);
    await b.page.locator('.page-head [data-kind="DAGSTER"]').waitFor();
    assert.match(await b.page.locator('#location-facts').innerText(), /Dagster 1\.13\.29/);
    await b.page.locator('#location-assets a', { hasText: '2 assets' }).waitFor();
  });

  test('the asset view lists the assets and draws their lineage; Materialize selected launches exactly those', async () => {
    await b.page.goto(`${s.url}/locations/${LOC}/assets`);
    const rows = b.page.locator('#assets tbody tr[data-asset]');
    await rows.first().waitFor();
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-asset'))), [
      'doubled_numbers',
      'raw_numbers',
    ]);
    const doubled = b.page.locator('#assets tr[data-asset="doubled_numbers"]');
    assert.match(
      await doubled.innerText(),
      /numbers\s+The raw numbers doubled\.\s+raw_numbers\s+__ASSET_JOB\s*numbers_job\s+never/,
    );
    // Lineage: two asset nodes, one edge from the upstream asset to the downstream one.
    const graph = b.page.locator('#asset-graph svg');
    assert.equal(await graph.locator('.asset-node').count(), 2);
    const edges = await graph
      .locator('.op-edge')
      .evaluateAll((es) => es.map((e) => `${e.getAttribute('data-from')}→${e.getAttribute('data-to')}`));
    assert.deepEqual(edges, ['raw_numbers→doubled_numbers']);

    const selBtn = b.page.locator('#materialize-selected');
    assert.equal(await selBtn.isDisabled(), true);
    await graph.locator('.asset-node[data-asset="raw_numbers"]').click();
    assert.equal(await b.page.locator('tr[data-asset="raw_numbers"] input[type="checkbox"]').isChecked(), true);
    assert.equal((await selBtn.innerText()).trim(), 'Materialize selected (1)');
    await selBtn.click();
    await b.page.waitForURL((u) => u.pathname.startsWith('/runs/'));
    materializeRunId = decodeURIComponent(new URL(b.page.url()).pathname.split('/').pop()!);

    const launch = await agent.item((c) => c.kind === 'LAUNCH_RUN' && c.runId === materializeRunId);
    assert.deepEqual(launch.payload.assetSelection, ['raw_numbers']);
    assert.equal(launch.payload.job, '__ASSET_JOB');
    assert.equal(launch.payload.location, LOC);
  });

  test('a Dagster run: ENGINE events show their Dagster type, a materialization links to its asset', async () => {
    assert.ok(materializeRunId, 'the materialization run was launched');
    const runId = materializeRunId;
    // The events the agent's spool mapping produces for a one-asset run (see NOTES: types kept,
    // other Dagster events as ENGINE with their dagsterEventType).
    // Event times are the run's own: after its creation, before now.
    await new Promise((r) => setTimeout(r, 1_200));
    const t0 = Date.now() - 1_150;
    await s.events(runId, [
      {
        type: 'ENGINE',
        timestamp: t0,
        message: 'Started process for run (pid 4242).',
        data: { dagsterEventType: 'ENGINE_EVENT' },
      },
      {
        type: 'RUN_START',
        timestamp: t0 + 40,
        message: 'Started execution of run for "__ASSET_JOB".',
        data: { dagsterEventType: 'PIPELINE_START' },
      },
      {
        type: 'ENGINE',
        timestamp: t0 + 60,
        stepKey: 'raw_numbers',
        message: 'Launching subprocess for "raw_numbers".',
        data: { dagsterEventType: 'STEP_WORKER_STARTING' },
      },
      {
        type: 'STEP_START',
        timestamp: t0 + 900,
        stepKey: 'raw_numbers',
        message: 'Started execution of step "raw_numbers".',
        data: { dagsterEventType: 'STEP_START' },
      },
      {
        type: 'STEP_OUTPUT',
        timestamp: t0 + 950,
        stepKey: 'raw_numbers',
        message: 'Yielded output "result" of type "Any".',
        data: { dagsterEventType: 'STEP_OUTPUT' },
      },
      {
        type: 'ENGINE',
        timestamp: t0 + 960,
        stepKey: 'raw_numbers',
        message: 'Writing file at: raw_numbers using PickledObjectFilesystemIOManager...',
        data: { dagsterEventType: 'HANDLED_OUTPUT' },
      },
      {
        type: 'ASSET_MATERIALIZATION',
        timestamp: t0 + 970,
        stepKey: 'raw_numbers',
        assetKey: 'raw_numbers',
        message: 'Materialized value raw_numbers.',
        data: { dagsterEventType: 'ASSET_MATERIALIZATION' },
      },
      {
        type: 'STEP_SUCCESS',
        timestamp: t0 + 980,
        stepKey: 'raw_numbers',
        message: 'Finished execution of step "raw_numbers" in 62ms.',
        data: { dagsterEventType: 'STEP_SUCCESS' },
      },
      {
        type: 'RUN_SUCCESS',
        timestamp: t0 + 1_100,
        message: 'Finished execution of run for "__ASSET_JOB".',
        data: { dagsterEventType: 'PIPELINE_SUCCESS' },
      },
    ]);
    await b.page.goto(`${s.url}/runs/${runId}`);
    await b.page.locator('h1 [data-status="SUCCESS"]').waitFor();
    // Relaunching the asset job would materialize every asset: the page sends you to the assets.
    assert.equal(await b.page.locator('#relaunch').count(), 0);
    assert.equal(await b.page.locator('#to-assets').getAttribute('href'), `/locations/${LOC}/assets`);
    const handled = b.page.locator('tr[data-type="ENGINE"][data-dagster-type="HANDLED_OUTPUT"]');
    assert.match(await handled.locator('.dagster-type').innerText(), /HANDLED_OUTPUT/);
    const link = b.page.locator('tr[data-type="ASSET_MATERIALIZATION"] a.asset-link');
    assert.equal((await link.innerText()).trim(), 'raw_numbers');
    await b.page.locator('#type-filter').selectOption('ASSETS');
    assert.equal(await b.page.locator('.events-table tbody tr[data-type]').count(), 1);
    await debugShot(b.page, 'dagster-run');

    // The link opens the asset view on that asset, whose latest materialization is this run.
    await link.click();
    await b.page.waitForURL(
      (u) => u.pathname === `/locations/${LOC}/assets` && u.searchParams.get('asset') === 'raw_numbers',
    );
    const row = b.page.locator('#assets tr.focused[data-asset="raw_numbers"]');
    await row.waitFor();
    assert.equal(await row.locator('.last-materialization a').getAttribute('href'), `/runs/${runId}`);
    assert.match(await row.locator('.last-materialization').innerText(), /^\d+s ago/);
    assert.equal(
      await b.page.locator('#asset-graph .asset-node.materialized').getAttribute('data-asset'),
      'raw_numbers',
    );
    await debugShot(b.page, 'dagster-assets');
    await takeDagsterShots(b.page, { url: s.url, runId, location: LOC });
  });

  test('the launch form works from the converted Dagster config schema; Dagster judges the config', async () => {
    await b.page.goto(`${s.url}/locations/${LOC}/jobs/greeting_job`);
    await b.page.locator('#dagster-config-hint').waitFor();
    const editor = b.page.locator('#config-editor');
    // Only required fields (none here): Dagster applies the schema's defaults itself.
    assert.deepEqual(JSON.parse(await editor.inputValue()), {});
    assert.equal(await b.page.locator('#config-problems li').count(), 0);
    const [valid, invalid] = recordedPlans();
    // The typo Dagster refused when recorded: the form flags it but lets Dagster judge.
    await editor.fill(JSON.stringify(invalid!.runConfig));
    await b.page.locator('#config-problems li.advisory', { hasText: 'unknown property "nam"' }).waitFor();
    assert.equal(await b.page.locator('#launch').isDisabled(), false);
    await b.page.locator('#launch').click();
    const refused = b.page.locator('#launch-form .error-box');
    await refused.waitFor();
    assert.match(await refused.innerText(), /OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION/);
    assert.match(await refused.innerText(), /Received unexpected config entry "nam" at path root:ops:greet:config/);
    assert.equal(new URL(b.page.url()).pathname, `/locations/${LOC}/jobs/greeting_job`);

    await editor.fill(JSON.stringify(valid!.runConfig));
    assert.equal(await b.page.locator('#config-problems li').count(), 0);
    await b.page.locator('#launch').click();
    await b.page.waitForURL((u) => u.pathname.startsWith('/runs/'));
    const runId = decodeURIComponent(new URL(b.page.url()).pathname.split('/').pop()!);
    const launch = await agent.item((c) => c.kind === 'LAUNCH_RUN' && c.runId === runId);
    assert.deepEqual(launch.payload.runConfig, { ops: { greet: { config: { name: 'world' } } } });
    assert.equal(launch.payload.job, 'greeting_job');
    assert.equal(launch.payload.assetSelection, undefined);
  });

  test('test schedule and test sensor show the evaluation and launch nothing', async () => {
    const runsBefore = await s.user<{ runs: { edges: unknown[] } }>(
      'query { runs(first: 100) { edges { node { id } } } }',
    );
    await b.page.goto(`${s.url}/automation`);
    const schedRow = b.page.locator('tr[data-schedule="daily_job_schedule"]');
    await schedRow.locator('button.test-tick').click();
    const panel = b.page.locator(`tr.tick-test[data-test="schedule:${LOC}:daily_job_schedule"]`);
    // The tick time the recorded evaluation was made for.
    const req = JSON.parse(recorded('1.13', 'schedule.daily_job_schedule').request) as {
      scheduled_execution_timestamp: number;
    };
    const tickMs = req.scheduled_execution_timestamp * 1000;
    // As the browser's datetime-local shows it (local time, to the second).
    const local = await b.page.evaluate(
      (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19),
      tickMs,
    );
    await panel.locator('input.tick-time').fill(local);
    await panel.locator('button.tick-evaluate').click();
    const request = panel.locator('tr.run-request');
    await request.waitFor();
    const text = await request.innerText();
    assert.match(text, /daily_job\s+2026-12-28\s+2026-12-28/);
    assert.match(text, /dagster\/schedule_name=daily_job_schedule/);
    assert.match(await panel.locator('.tick-summary').innerText(), /1 run request \(none launched\)/);
    const item = await agent.item((c) => c.kind === 'EVALUATE_SCHEDULE');
    assert.equal(item.payload.tickTimeMs, tickMs);
    assert.equal(item.payload.dryRun, true);
    await debugShot(b.page, 'dagster-test-schedule');

    const sensorRow = b.page.locator('tr[data-sensor="every_tick"]');
    await sensorRow.locator('button.test-tick').click();
    const sPanel = b.page.locator(`tr.tick-test[data-test="sensor:${LOC}:every_tick"]`);
    await sPanel.locator('input.tick-cursor').fill('41');
    await sPanel.locator('button.tick-evaluate').click();
    await sPanel.locator('tr.run-request').waitFor();
    assert.match(await sPanel.locator('tr.run-request').innerText(), /greeting_job\s+tick-42/);
    assert.equal((await sPanel.locator('.new-cursor').innerText()).trim(), '42');
    const sItem = await agent.item((c) => c.kind === 'EVALUATE_SENSOR');
    assert.equal(sItem.payload.cursor, '41');
    assert.equal(sItem.payload.dryRun, true);
    // From a cursor with nothing new, the sensor skips and says why.
    await sPanel.locator('input.tick-cursor').fill('abc');
    await sPanel.locator('button.tick-evaluate').click();
    await sPanel.locator('.skip-reason', { hasText: 'Skipped: nothing new since abc' }).waitFor();
    assert.equal(await sPanel.locator('tr.run-request').count(), 0);
    assert.match(await sPanel.locator('.tick-summary').innerText(), /No run requests/);
    assert.equal((await sPanel.locator('.new-cursor').innerText()).trim(), 'abc');

    // Nothing launched, and the sensor's stored cursor is unchanged.
    const runsAfter = await s.user<{ runs: { edges: unknown[] } }>(
      'query { runs(first: 100) { edges { node { id } } } }',
    );
    assert.equal(runsAfter.runs.edges.length, runsBefore.runs.edges.length);
    const { codeLocation } = await s.user<{
      codeLocation: { sensors: Array<{ name: string; cursor: string | null }> };
    }>('query($n: String!) { codeLocation(name: $n) { sensors { name cursor } } }', { n: LOC });
    assert.equal(codeLocation.sensors.find((x) => x.name === 'every_tick')?.cursor ?? null, null);
    const problems = b.problems.filter((p) => !/40[13]|Failed to load resource/.test(p));
    assert.deepEqual(problems, []);
    assert.deepEqual(agent.errors, []);
  });

  test('a VIEWER sees the assets and automation but no Materialize and no Test', async () => {
    const viewer = await launchBrowser();
    try {
      const token = await s.cp.issueToken('user', 'viewer-dagster', 'VIEWER');
      await viewer.page.goto(`${s.url}/signin`);
      await viewer.page.locator('#token').fill(token);
      await viewer.page.locator('#signin-form button').click();
      await viewer.page.waitForURL((u) => u.pathname === '/runs');
      await viewer.page.goto(`${s.url}/locations/${LOC}/assets`);
      await viewer.page.locator('#assets tr[data-asset="raw_numbers"]').waitFor();
      await viewer.page.locator('#materialize-denied').waitFor();
      assert.equal(await viewer.page.locator('#materialize-selected, #materialize-all').count(), 0);
      assert.equal(await viewer.page.locator('#assets input[type="checkbox"]:not([disabled])').count(), 0);
      await viewer.page.goto(`${s.url}/automation`);
      await viewer.page.locator('tr[data-schedule="daily_job_schedule"]').waitFor();
      assert.equal(await viewer.page.locator('button.test-tick').count(), 0);
    } finally {
      await viewer.close();
    }
  });
});
