// The run page and agent health in a real browser, against a real control plane whose agent
// is played through the agent API (test/support/scripted-agent.ts): a run that failed to start
// shows why, durations agree between header, timeline and list, a QUEUED run's page has no
// stray `null` nor a "Running" chip and says it waits for an agent, and when no agent is
// healthy a banner says so on every page and locations are marked unreachable.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { reapUnlaunchedRuns } from '../../src/control-plane/services/launch-reaper.js';
import { browserSkipReason, debugShot, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startHelloStack, type ScriptedStack } from '../support/scripted-agent.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

/** Set OUTPOST_DOCS_SHOTS=1 to refresh the README's screenshots in docs/. */
const DOCS = process.env.OUTPOST_DOCS_SHOTS ? resolve(import.meta.dirname, '..', '..', 'docs') : undefined;

describe('run page and agent health in the browser', { skip, timeout: 300_000 }, () => {
  let s: ScriptedStack;
  let b: TestBrowser;
  let beating: ReturnType<typeof setInterval> | undefined;
  before(async () => {
    // 1 s heartbeats: the agent is unhealthy 3 s after its last one.
    s = await startHelloStack({ storeLimits: { heartbeatIntervalMs: 1_000, maxAttempts: 1 } });
    beating = setInterval(() => void s.heartbeat(['hello']).catch(() => undefined), 500);
    b = await launchBrowser();
    await b.page.goto(`${s.url}/signin`);
    await b.page.locator('#token').fill(s.userToken);
    await b.page.locator('#signin-form button').click();
    await b.page.waitForURL((u) => u.pathname === '/runs');
  });
  after(async () => {
    clearInterval(beating);
    await b?.close();
    await s?.close();
  });

  const timelineText = () => b.page.locator('#timeline').innerText();

  test('a run whose acknowledged launch never started shows it failed to start, and why', async () => {
    const runId = await s.launch('hello');
    await s.claimLaunch(runId, { reportLaunched: false });
    const reaped = await reapUnlaunchedRuns(s.cp.store, 0);
    assert.deepEqual(reaped.failed, [runId]);
    await b.page.goto(`${s.url}/runs/${runId}`);
    await b.page.locator('[data-status="FAILURE"]').first().waitFor();
    const box = b.page.locator('#launch-error');
    await box.waitFor();
    assert.match(await box.innerText(), /Did not start · OUTPOST_ERR_RUN_LAUNCH_TIMEOUT/);
    assert.match(await box.innerText(), /1 of 1 attempts/);
    const tl = await timelineText();
    assert.doesNotMatch(tl, /null|Running/);
    assert.match(tl, /Failure/);
  });

  test('header, timeline and runs list show one duration, from the events own times', async () => {
    const runId = await s.launch('hello');
    await s.claimLaunch(runId);
    // The events reach the control plane 78 s after they happened (an adopted run's backlog).
    const t0 = Date.now() - 78_000;
    await s.events(runId, [
      { type: 'RUN_START', timestamp: t0 },
      { type: 'STEP_START', stepKey: 'who', timestamp: t0 + 1 },
      { type: 'STEP_SUCCESS', stepKey: 'who', timestamp: t0 + 8 },
      { type: 'RUN_SUCCESS', timestamp: t0 + 9 },
    ]);
    await b.page.goto(`${s.url}/runs/${runId}`);
    await b.page.locator('h1 [data-status="SUCCESS"]').waitFor();
    const duration = b.page.locator('.fact', { hasText: 'Duration' }).locator('dd');
    assert.equal((await duration.innerText()).trim(), '9 ms');
    const started = b.page.locator('.tl-phase-chip[data-phase="Started"] .tl-chip-dur');
    assert.equal((await started.innerText()).trim(), '→ 9 ms');
    await b.page.goto(`${s.url}/runs`);
    const row = b.page.locator(`tr[data-run-id="${runId}"] td.num`);
    assert.equal((await row.innerText()).trim(), '9 ms');
  });

  test('a partitioned job is launched from the form with only a key picked: the partition brings its config', async () => {
    // The location answers partitionRun as examples/hello's partitionConfig / partitionTags do.
    const stop = s.answerQueries((p) => {
      const region = String(p.partitionKey);
      return { runConfig: { region }, tags: { region } };
    });
    try {
      await b.page.goto(`${s.url}/locations/hello/jobs/greet_region`);
      const select = b.page.locator('select#partition-key');
      assert.deepEqual(await select.locator('option').allInnerTexts(), ['eu', 'us', 'apac']);
      await select.selectOption('us');
      assert.equal((await b.page.locator('#config-editor').inputValue()).trim(), '{}');
      assert.equal(await b.page.locator('#config-problems li').count(), 0, 'no error for what the partition supplies');
      await b.page.locator('#launch').click();
      await b.page.waitForURL((u) => u.pathname.startsWith('/runs/run_'));
      const runId = decodeURIComponent(new URL(b.page.url()).pathname.split('/').pop()!);
      const { run } = await s.user<{ run: { tags: Record<string, string>; runConfig: Record<string, unknown> } }>(
        'query($id: ID!) { run(id: $id) { tags runConfig } }',
        { id: runId },
      );
      assert.equal(run.tags['outpost/partition'], 'us');
      assert.equal(run.tags.region, 'us');
      assert.deepEqual(run.runConfig, { region: 'us' });
    } finally {
      await stop();
    }
  });

  test('a QUEUED run: no stray null, no Running chip, and it says what it waits for', async () => {
    const runId = await s.launch('hello');
    await b.page.goto(`${s.url}/runs/${runId}`);
    await b.page.locator('#queued-hint').waitFor();
    const tl = await timelineText();
    assert.doesNotMatch(tl, /null/);
    assert.doesNotMatch(tl, /Running/);
    assert.match(tl, /Waiting to launch/);
    assert.match(await b.page.locator('#queued-hint').innerText(), /waiting for an agent to claim/i);
  });

  test('no healthy agent: a banner on every page, queued runs wait for an agent, locations unreachable', async () => {
    clearInterval(beating);
    await b.page.goto(`${s.url}/runs`);
    const banner = b.page.locator('#agent-health');
    await banner.waitFor({ state: 'visible', timeout: 20_000 });
    assert.match(await banner.innerText(), /No healthy agent/);
    await b.page.locator('tr[data-status="QUEUED"] .waiting', { hasText: 'waiting for an agent' }).first().waitFor();
    const queued = await b.page.locator('tr[data-status="QUEUED"] a').first().getAttribute('href');
    await b.page.goto(`${s.url}${queued}`);
    await b.page.locator('#agent-health').waitFor({ state: 'visible' });
    await b.page.locator('#queued-hint', { hasText: 'Waiting for an agent' }).waitFor();
    await b.page.locator('#tl-now', { hasText: 'Waiting for an agent' }).waitFor();
    assert.doesNotMatch(await timelineText(), /null|Running/);
    if (DOCS) await b.page.screenshot({ path: join(DOCS, 'ui-run-queued.png') });
    await debugShot(b.page, 'run-queued-no-agent');

    await b.page.goto(`${s.url}/locations`);
    await b.page.locator('[data-location="hello"][data-reachable="false"]', { hasText: 'UNREACHABLE' }).waitFor();
    await b.page.locator('#agent-health').waitFor({ state: 'visible' });
    if (DOCS) {
      mkdirSync(DOCS, { recursive: true });
      await b.page.screenshot({ path: join(DOCS, 'ui-agent-banner.png') });
    }

    // The agent is back: the banner goes and the location is reachable again.
    await s.heartbeat(['hello']);
    beating = setInterval(() => void s.heartbeat(['hello']).catch(() => undefined), 500);
    await b.page.locator('#agent-health').waitFor({ state: 'hidden', timeout: 20_000 });
    await b.page.locator('[data-location="hello"][data-reachable="true"]').waitFor();
    const problems = b.problems.filter((p) => !/40[13]|Failed to load resource/.test(p));
    assert.deepEqual(problems, []);
  });
});
