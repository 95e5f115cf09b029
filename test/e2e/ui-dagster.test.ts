// The UI of a Dagster code location in a real browser, against a real control plane whose agent
// is played through the agent API (ui-dagster-agent.ts): it reports the snapshot recorded from a
// real Dagster 1.13 code server serving examples/dagster, answers config checks and test
// evaluations with that server's recorded replies, and runs the materialization the UI launched
// as a real `dagster api execute_run` (ui-dagster-worker.ts), shipping its events. Checks: kind and Dagster version, the asset list and lineage, "Materialize selected"
// launches a run whose LAUNCH_RUN work item carries the selection, the Dagster launch form, and
// test schedule / test sensor show the evaluation without launching anything.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { browserSkipReason, debugShot, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startScriptedStack, type ScriptedStack } from '../support/scripted-agent.js';
import { recorded } from '../unit/agent/dagster/dagster-fixtures.js';
import { playAgent, recordedPlans, recordedSnapshot, type PlayedAgent } from './ui-dagster-agent.js';
import { takeDagsterShots } from './ui-dagster-shots.js';
import { dagsterSkipReason, startDagsterWorker, type DagsterWorker } from './ui-dagster-worker.js';
import type { WorkItemPayload } from '../../src/shared/work-items.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

const LOC = 'dagster_example';
const dagsterSkip = dagsterSkipReason();
if (dagsterSkip) console.log(`# the real Dagster run is skipped: ${dagsterSkip}`);

describe('a Dagster code location in the browser', { skip, timeout: 300_000 }, () => {
  let s: ScriptedStack;
  let b: TestBrowser;
  let agent: PlayedAgent;
  let worker: DagsterWorker | undefined;
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
          dagster: {
            python: process.env.OUTPOST_TEST_DAGSTER_PYTHON ?? '/usr/bin/python3',
            pythonFile: 'definitions.py',
            workingDirectory: resolve('examples', 'dagster'),
          },
        },
      },
    );
    await s.report(LOC, d.deployCodeLocation.version, { snapshot });
    await s.heartbeat([LOC]);
    beating = setInterval(() => void s.heartbeat([LOC]).catch(() => undefined), 1000);
    agent = playAgent(s);
    // The launch target, from a real code server, ready before the run is launched.
    if (!dagsterSkip) worker = await startDagsterWorker(process.env.OUTPOST_TEST_DAGSTER_PYTHON!, LOC);
    b = await launchBrowser();
    await b.page.goto(`${s.url}/signin`);
    await b.page.locator('#token').fill(s.userToken);
    await b.page.locator('#signin-form button').click();
    await b.page.waitForURL((u) => u.pathname === '/runs');
  });
  after(async () => {
    clearInterval(beating);
    await agent?.stop();
    await worker?.close();
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

  test(
    'a real Dagster run of that item: ENGINE events show their Dagster type, the materialization links to its asset',
    { skip: dagsterSkip },
    async () => {
      assert.ok(materializeRunId, 'the materialization run was launched');
      const runId = materializeRunId;
      // The agent's part, for real: the LAUNCH_RUN item runs as `dagster api execute_run` and the
      // events Dagster (through python/outpost_dagster) spooled are shipped as the agent ships them.
      const launch = await agent.item((c) => c.kind === 'LAUNCH_RUN' && c.runId === runId);
      const events = await worker!.run(launch.payload as WorkItemPayload<'LAUNCH_RUN'>);
      assert.equal(events.at(-1)?.type, 'RUN_SUCCESS', JSON.stringify(events.at(-1)));
      assert.deepEqual(
        events.filter((e) => e.type === 'ASSET_MATERIALIZATION').map((e) => e.assetKey),
        ['raw_numbers'],
      );
      await s.events(runId, events);
      await b.page.goto(`${s.url}/runs/${runId}`);
      await b.page.locator('h1 [data-status="SUCCESS"]').waitFor();
      // The run names the assets it materialized; its asset job's page is the assets view.
      assert.equal((await b.page.locator('#run-assets').innerText()).trim(), 'raw_numbers');
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
      // Seconds, or a minute or two on a host slow enough for the view to open a minute after the run.
      assert.match(await row.locator('.last-materialization').innerText(), /^(\d+s|[12]m) ago/);
      assert.equal(
        await b.page.locator('#asset-graph .asset-node.materialized').getAttribute('data-asset'),
        'raw_numbers',
      );
      await debugShot(b.page, 'dagster-assets');
      await takeDagsterShots(b.page, { url: s.url, runId, location: LOC });

      // "Launch again" launches those assets alone, not every asset of the asset job.
      await b.page.goto(`${s.url}/runs/${runId}`);
      await b.page.locator('#relaunch').click();
      await b.page.waitForURL((u) => u.pathname.startsWith('/runs/') && !u.pathname.endsWith(runId));
      const again = decodeURIComponent(new URL(b.page.url()).pathname.split('/').pop()!);
      const relaunched = await agent.item((c) => c.kind === 'LAUNCH_RUN' && c.runId === again);
      assert.deepEqual(relaunched.payload.assetSelection, ['raw_numbers']);
      assert.equal(relaunched.payload.job, '__ASSET_JOB');
    },
  );

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
    assert.equal(launch.payload.opSelection, undefined, 'every op checked: the whole job');

    // Some of its ops: Dagster's op selection. None checked cannot launch.
    await b.page.goto(`${s.url}/locations/${LOC}/jobs/greeting_job`);
    await editor.fill(JSON.stringify(valid!.runConfig));
    const picker = b.page.locator('#op-picker');
    assert.deepEqual(
      await picker.locator('input[type="checkbox"]').evaluateAll((es) => es.map((e) => e.getAttribute('data-op'))),
      ['greet', 'shout'],
    );
    await picker.locator('input[data-op="greet"]').uncheck();
    await picker.locator('input[data-op="shout"]').uncheck();
    await b.page.locator('#no-ops').waitFor();
    assert.equal(await b.page.locator('#launch').isDisabled(), true);
    await picker.locator('input[data-op="greet"]').check();
    assert.equal(await b.page.locator('#launch').isDisabled(), false);
    await debugShot(b.page, 'dagster-op-selection');
    await b.page.locator('#launch').click();
    await b.page.waitForURL((u) => u.pathname.startsWith('/runs/') && !u.pathname.endsWith(runId));
    const opRunId = decodeURIComponent(new URL(b.page.url()).pathname.split('/').pop()!);
    const opLaunch = await agent.item((c) => c.kind === 'LAUNCH_RUN' && c.runId === opRunId);
    assert.deepEqual(opLaunch.payload.opSelection, ['greet']);
    assert.equal((await b.page.locator('#run-ops').innerText()).trim(), 'greet');
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
    assert.match(text, /daily_job\s+2026-12-28\s+2026-12-28\s+whole job/);
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
