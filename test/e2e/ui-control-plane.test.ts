// The web UI's pages in a real browser against a real control plane started in-process (SQLite,
// a real port), seeded through the real APIs by test/support/seeded-control-plane.ts: locations,
// launch form, terminate, live runs, filters, automation, agents. Sign-in, CSRF and sign-out:
// ui-session.test.ts. No Temporal here; ui-full-flow.test.ts covers the whole system.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlPlane } from '../../src/control-plane/index.js';
import { browserSkipReason, debugShot, launchBrowser, type TestBrowser } from '../support/browser.js';
import type { Vars } from '../support/graphql-call.js';
import type { ScriptedStack } from '../support/scripted-agent.js';
import { signIn, startSeededControlPlane } from '../support/seeded-control-plane.js';
import { runWorkflowId } from '../../src/shared/workflow-contract.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

describe('web UI against a real control plane', { skip, timeout: 300_000 }, () => {
  let s: ScriptedStack;
  let b: TestBrowser;
  let cp: ControlPlane;
  let agentId: string;
  const user = <T>(q: string, v?: Vars): Promise<T> => s.user<T>(q, v);
  const agent = <T>(q: string, v?: Vars): Promise<T> => s.agent<T>(q, v);
  const launch = (job: string, runConfig?: Vars): Promise<string> => s.launch(job, runConfig);
  /** Plays the agent's part for a launch: claim, ack, report the worker launched. */
  const agentStarts = (runId: string): Promise<void> => s.claimLaunch(runId);
  const events = (runId: string, list: Vars[]): Promise<void> => s.events(runId, list);

  before(async () => {
    s = await startSeededControlPlane();
    ({ cp, agentId } = s);
    b = await launchBrowser();
    await signIn(s, b);
  });

  after(async () => {
    await b?.close();
    await s?.close();
  });

  test('code locations: hello LOADED with its jobs, broken with its load error', async () => {
    const { page } = b;
    await page.goto(`${cp.url}/locations`);
    await page.locator('[data-location="hello"][data-status="LOADED"]').waitFor();
    await page
      .locator('[data-location="broken"][data-status="ERROR"] .load-error', { hasText: 'SyntaxError' })
      .waitFor();
    await page.locator('[data-location="hello"] a', { hasText: 'sleepy' }).click();
    await page.waitForURL((u) => u.pathname === '/locations/hello/jobs/sleepy');
    await page.locator('#config-schema', { hasText: 'seconds' }).waitFor();
    await page.goto(`${cp.url}/locations/hello/jobs/hello`);
    assert.equal(await page.locator('#op-graph .op-node').count(), 3);
    assert.ok((await page.locator('#op-graph .op-edge').count()) >= 2, 'edges between the ops');
    await debugShot(page, 'job');
    await page.goto(`${cp.url}/locations`);
    await page.locator('[data-location="hello"]').waitFor();
    await debugShot(page, 'locations');
  });

  test('the launch form checks config against the schema in the browser and on the server', async () => {
    const { page } = b;
    await page.goto(`${cp.url}/locations/hello/jobs/sleepy`);
    assert.deepEqual(JSON.parse(await page.locator('#config-editor').inputValue()), { seconds: 5 });
    await page.locator('#config-editor').fill('{"seconds": "soon"}');
    await page.locator('#config-problems li', { hasText: 'must be number' }).waitFor();
    assert.equal(await page.locator('#launch').isDisabled(), true);
    await page.locator('#config-editor').fill('{"seconds": ');
    await page.locator('#config-problems li', { hasText: 'JSON' }).waitFor();
    // The server refuses the same config even if the browser check is bypassed.
    const serverAnswer = await page.evaluate(async () => {
      const csrf = /outpost_csrf=([^;]+)/.exec(document.cookie)?.[1] ?? '';
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-outpost-csrf': decodeURIComponent(csrf) },
        body: JSON.stringify({
          query:
            'mutation { launchRun(input: { location: "hello", job: "sleepy", runConfig: { seconds: "soon" } }) { id } }',
        }),
      });
      return (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
    });
    assert.equal(serverAnswer.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION');
    await page.locator('#config-editor').fill('{"seconds": 30}');
    await page.locator('#launch:not([disabled])').click();
    await page.waitForURL(/\/runs\/run_/);
    await page.locator('h1 [data-status="QUEUED"]').waitFor();
    const runId = page.url().split('/runs/')[1]!;
    const href = await page.locator('#temporal-link').getAttribute('href');
    assert.equal(href, `http://127.0.0.1:8233/namespaces/default/workflows/${runWorkflowId(runId)}`);
  });

  test('terminate from the run page, with confirmation: a queued run ends CANCELED', async () => {
    const { page } = b;
    await page.locator('#terminate').click();
    await page.locator('#confirm-cancel').click();
    await page.locator('h1 [data-status="QUEUED"]').waitFor();
    await page.locator('#terminate').click();
    await page.locator('#confirm-ok').click();
    await page.locator('h1 [data-status="CANCELED"]').waitFor();
    assert.equal(await page.locator('#terminate').isHidden(), true);
  });

  test('the runs list and the run page update live as the agent reports', async () => {
    const { page } = b;
    await page.goto(`${cp.url}/runs`);
    await page.locator('tr[data-status="CANCELED"]').waitFor();
    const runId = await launch('hello');
    const row = page.locator(`tr[data-run-id="${runId}"]`);
    await row.locator('[data-status="QUEUED"]').waitFor();
    await agentStarts(runId);
    await events(runId, [{ type: 'RUN_START', message: 'run started' }]);
    await row.locator('[data-status="STARTED"]').waitFor();

    // The run page subscribes to the run's events over SSE with the session cookie.
    const sse = page.waitForResponse((r) => r.url().includes('/graphql?') && r.url().includes('subscription'));
    await row.locator('a').click();
    await page.waitForURL(`${cp.url}/runs/${runId}`);
    const stream = await sse;
    assert.equal(stream.status(), 200);
    assert.match((await stream.allHeaders())['content-type'] ?? '', /text\/event-stream/);
    await page.locator('h1 [data-status="STARTED"]').waitFor();
    await events(runId, [
      { type: 'STEP_START', stepKey: 'greet' },
      { type: 'LOG', stepKey: 'greet', level: 'info', message: 'composing a greeting' },
      { type: 'STEP_SUCCESS', stepKey: 'greet' },
      { type: 'STEP_START', stepKey: 'shout' },
    ]);
    await page.locator('.events-table tr[data-type="LOG"]', { hasText: 'composing a greeting' }).waitFor();
    await agent(
      'mutation($a: ID!, $r: ID!, $d: String!) { appendComputeLogs(agentId: $a, runId: $r, stream: STDOUT, offset: 0, data: $d) { storedBytes } }',
      {
        a: agentId,
        r: runId,
        d: Buffer.from('hello from outpost\n').toString('base64'),
      },
    );
    await page.locator('#tab-stdout').click();
    await page.locator('#log-stdout', { hasText: 'hello from outpost' }).waitFor();
    await agent(
      'mutation($a: ID!, $r: ID!, $d: String!) { appendComputeLogs(agentId: $a, runId: $r, stream: STDOUT, offset: 19, data: $d) { storedBytes } }',
      {
        a: agentId,
        r: runId,
        d: Buffer.from('and a second line\n').toString('base64'),
      },
    );
    await page.locator('#log-stdout', { hasText: 'and a second line' }).waitFor();
    assert.equal(await page.locator('#log-stdout').textContent(), 'hello from outpost\nand a second line\n');
    await page.locator('#tab-events').click();
    await events(runId, [
      {
        type: 'LOG',
        stepKey: 'shout',
        level: 'error',
        message: 'something went wrong',
        error: { name: 'Error', message: 'boom', stack: 'Error: boom\n  at shout' },
      },
      { type: 'STEP_FAILURE', stepKey: 'shout', error: { name: 'Error', message: 'boom' } },
      { type: 'RUN_FAILURE', message: 'run failed' },
    ]);
    await page.locator('h1 [data-status="FAILURE"]').waitFor();
    await page.locator('.tl-step[data-step="greet"] .tl-bar-success').waitFor();
    await page.locator('.tl-step[data-step="shout"] .tl-bar-failure').waitFor();
    // Step filter: only the events of `greet`.
    await page.locator('#step-filter').selectOption('greet');
    const types = await page
      .locator('.events-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type')));
    assert.deepEqual(types, ['STEP_START', 'LOG', 'STEP_SUCCESS']);
    await page.locator('#step-filter').selectOption('');
    await page.locator('#type-filter').selectOption('ERRORS');
    const errorRows = await page
      .locator('.events-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type')));
    assert.deepEqual(errorRows, ['LOG', 'STEP_FAILURE', 'RUN_FAILURE']);
    await debugShot(page, 'run');
  });

  test('runs filters live in the URL', async () => {
    const { page } = b;
    await page.goto(`${cp.url}/runs`);
    await page.locator('#filter-status').selectOption('CANCELED');
    await page.waitForURL(/status=CANCELED/);
    await page.locator('tr[data-status="CANCELED"]').waitFor();
    assert.equal(await page.locator('tr[data-status="FAILURE"]').count(), 0);
    await page.goto(`${cp.url}/runs?job=nope`);
    await page.locator('td.empty', { hasText: 'No runs match' }).waitFor();
  });

  test('toggle a schedule and a sensor', async () => {
    const { page } = b;
    await page.goto(`${cp.url}/automation`);
    await page.locator('tr[data-schedule="every_minute"][data-state="STOPPED"]').waitFor();
    await page.locator('[data-toggle="schedule:hello:every_minute"]').click();
    await page.locator('tr[data-schedule="every_minute"][data-state="RUNNING"]').waitFor();
    const q = '{ codeLocation(name: "hello") { schedules { name state nextTickAt } sensors { name state } } }';
    type Loc = {
      codeLocation: {
        schedules: Array<{ name: string; state: string; nextTickAt: number | null }>;
        sensors: Array<{ name: string; state: string }>;
      };
    };
    const s = (await user<Loc>(q)).codeLocation.schedules.find((x) => x.name === 'every_minute');
    assert.equal(s?.state, 'RUNNING');
    assert.ok(s?.nextTickAt, 'a running schedule has a next tick');
    // The state to expect comes from the row before the click: an API read right after it can
    // run before the UI's mutation commits, and then waits for a row the refresh already replaced.
    const was = await page.locator('tr[data-sensor="file_sensor"]').getAttribute('data-state');
    const want = was === 'RUNNING' ? 'STOPPED' : 'RUNNING';
    await page.locator('[data-toggle="sensor:hello:file_sensor"]').click();
    await page.locator(`tr[data-sensor="file_sensor"][data-state="${want}"]`).waitFor();
    const sensor = (await user<Loc>(q)).codeLocation.sensors.find((x) => x.name === 'file_sensor');
    assert.equal(sensor?.state, want);
    await page.locator('[data-toggle="schedule:hello:every_minute"]').click();
    await page.locator('tr[data-schedule="every_minute"][data-state="STOPPED"]').waitFor();
    await debugShot(page, 'automation');
  });

  test('agents page shows health and heartbeat', async () => {
    const { page } = b;
    // Health means a heartbeat within three intervals: send a fresh one, as a live agent does.
    await agent(
      'mutation($a: ID!) { heartbeat(input: { agentId: $a, codeServers: [{ location: "hello", status: LOADED }], runningRunIds: [] }) }',
      {
        a: agentId,
      },
    );
    await page.goto(`${cp.url}/agents`);
    await page.locator(`tr[data-agent="${agentId}"][data-healthy="true"]`, { hasText: 'e2e-host' }).waitFor();
    await page.locator(`tr[data-agent="${agentId}"] .tag`, { hasText: 'hello: LOADED' }).waitFor();
    await debugShot(page, 'agents');
    await page.goto(`${cp.url}/runs`);
    await page.locator('tr[data-status="FAILURE"]').waitFor();
    await debugShot(page, 'runs');
  });

  test('launch again from a run page, and reload a location', async () => {
    const { page } = b;
    const first = await launch('sleepy', { seconds: 7 });
    await page.goto(`${cp.url}/runs/${first}`);
    await page.locator('#relaunch').click();
    await page.waitForURL((u) => u.pathname.startsWith('/runs/run_') && !u.pathname.endsWith(first));
    const second = page.url().split('/runs/')[1]!;
    const { run } = await user<{ run: { job: string; runConfig: unknown } }>(
      'query($id: ID!) { run(id: $id) { job runConfig } }',
      {
        id: second,
      },
    );
    assert.deepEqual(run, { job: 'sleepy', runConfig: { seconds: 7 } });

    await page.goto(`${cp.url}/locations`);
    await page.locator('[data-location="broken"] button', { hasText: 'Reload' }).click();
    await page.locator('[data-location="broken"][data-status="LOADING"]').waitFor();
    await page.locator('[data-location="broken"]', { hasText: 'version 2' }).waitFor();
  });

  test('no page logged an error to the console', () => {
    const problems = b.problems.filter((p) => !/40[13]|Failed to load resource/.test(p));
    assert.deepEqual(problems, []);
  });
});
