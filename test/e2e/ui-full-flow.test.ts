// The whole product in a real browser: `outpost dev` (Temporal, control plane, agent,
// examples/hello), signed in with the printed one-click link. Launch `hello` from the form and
// see `hello from outpost` in stdout; launch `sleepy` and terminate it from the UI; toggle a
// schedule. Takes the README screenshots (docs/ui-runs.png, docs/ui-run.png) on the way.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startDevStack, type DevStack } from '../support/dev-stack.js';
import { runWorkflowId } from '../../src/shared/workflow-contract.js';

// The README screenshots are rewritten only on request, so a test run leaves the tree clean.
const SHOTS =
  process.env.OUTPOST_UPDATE_SCREENSHOTS === '1'
    ? resolve(import.meta.dirname, '..', '..', 'docs')
    : mkdtempSync(join(tmpdir(), 'outpost-shots-'));
const RUN_TIMEOUT = 120_000;
const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

describe('web UI against outpost dev', { skip, timeout: 600_000 }, () => {
  let stack: DevStack;
  let b: TestBrowser;

  before(async () => {
    stack = await startDevStack();
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await stack?.stop();
    if (process.env.OUTPOST_UPDATE_SCREENSHOTS !== '1') rmSync(SHOTS, { recursive: true, force: true });
  });

  test('the one-time link signs in, leaves no code in the URL, and the log holds no token', async () => {
    const { page } = b;
    assert.ok(!stack.output.join('\n').includes(stack.userToken), 'no API token in the `outpost dev` output');
    await page.goto(stack.signInLink);
    await page.waitForURL((u) => u.pathname === '/runs');
    assert.ok(!page.url().includes('#code='), 'code gone from the address bar');
    const session = (await b.context.cookies()).find((c) => c.name === 'outpost_session');
    assert.ok(session?.httpOnly && session.sameSite === 'Strict');
    assert.equal(await page.evaluate(() => document.cookie.includes('outpost_session')), false);
  });

  test('examples/hello is LOADED', async () => {
    const { page } = b;
    await page.goto(`${stack.url}/locations`);
    await page.locator('[data-location="hello"][data-status="LOADED"]').waitFor({ timeout: RUN_TIMEOUT });
  });

  test('launch hello from the form: SUCCESS, with "hello from outpost" in stdout', async () => {
    const { page } = b;
    await page.goto(`${stack.url}/locations/hello/jobs/hello`);
    await page.locator('#op-graph .op-node').first().waitFor();
    assert.equal(await page.locator('#op-graph .op-node').count(), 3, 'the op graph shows the three ops');
    await page.locator('#launch').click();
    await page.waitForURL(/\/runs\/run_/);
    await page.locator('h1 [data-status="SUCCESS"]').waitFor({ timeout: RUN_TIMEOUT });
    await page.locator('#tab-stdout').click();
    await page.locator('#log-stdout', { hasText: 'hello from outpost' }).waitFor();
    await page.locator('#tab-events').click();
    await page.locator('.events-table tr[data-type="RUN_SUCCESS"]').waitFor();
    const temporal = await page.locator('#temporal-link').getAttribute('href');
    const runId = page.url().split('/runs/')[1]!;
    assert.equal(temporal, `${stack.temporalUiUrl}/namespaces/default/workflows/${runWorkflowId(runId)}`);
    mkdirSync(SHOTS, { recursive: true });
    await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
    await page.screenshot({ path: join(SHOTS, 'ui-run.png'), fullPage: false });
    assert.ok(statSync(join(SHOTS, 'ui-run.png')).size > 10_000, 'a real screenshot');
  });

  test('launch sleepy, terminate it from the UI, and see CANCELED', async () => {
    const { page } = b;
    await page.goto(`${stack.url}/locations/hello/jobs/sleepy`);
    await page.locator('#config-editor').fill('{"seconds": 120}');
    await page.locator('#launch').click();
    await page.waitForURL(/\/runs\/run_/);
    await page.locator('h1 [data-status="STARTED"]').waitFor({ timeout: RUN_TIMEOUT });
    await page.locator('#terminate').click();
    await page.locator('#confirm-ok').click();
    await page.locator('h1 [data-status="CANCELED"]').waitFor({ timeout: RUN_TIMEOUT });
    // The step stopped by the termination is drawn canceled, not as a red failure.
    await page.locator('.tl-step[data-step="nap"] .tl-bar-canceled').waitFor();
    await page.locator('tr[data-type="STEP_CANCELED"]').waitFor({ state: 'attached' });
    assert.equal(await page.locator('tr[data-type="STEP_FAILURE"]').count(), 0);
  });

  test('toggle a schedule on and off', async () => {
    const { page } = b;
    await page.goto(`${stack.url}/automation`);
    const toggle = page.locator('[data-toggle="schedule:hello:every_minute"]');
    const before = await toggle.isChecked();
    await toggle.click();
    const want = before ? 'STOPPED' : 'RUNNING';
    await page.locator(`tr[data-schedule="every_minute"][data-state="${want}"]`).waitFor();
    const { codeLocation } = await stack.graphql<{
      codeLocation: { schedules: Array<{ name: string; state: string }> };
    }>('{ codeLocation(name: "hello") { schedules { name state } } }');
    assert.equal(codeLocation.schedules.find((s) => s.name === 'every_minute')?.state, want);
    await page.locator('[data-toggle="schedule:hello:every_minute"]').click();
    await page.locator(`tr[data-schedule="every_minute"][data-state="${before ? 'RUNNING' : 'STOPPED'}"]`).waitFor();
  });

  test('the runs page shows new runs live, and the pages render without errors', async () => {
    const { page } = b;
    await page.goto(`${stack.url}/runs`);
    await page.locator('tr[data-status="SUCCESS"]').first().waitFor();
    await page.locator('tr[data-status="CANCELED"]').first().waitFor();
    // Runs launched elsewhere (here: the API) appear and progress without a reload.
    const launch = async (job: string, runConfig: Record<string, unknown> = {}): Promise<string> =>
      (
        await stack.graphql<{ launchRun: { id: string } }>(
          'mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }',
          { i: { location: 'hello', job, runConfig } },
        )
      ).launchRun.id;
    const failed = await launch('fail');
    const chatty = await launch('chatty', { events: 20 });
    await page.locator(`tr[data-run-id="${failed}"][data-status="FAILURE"]`).waitFor({ timeout: RUN_TIMEOUT });
    await page.locator(`tr[data-run-id="${chatty}"][data-status="SUCCESS"]`).waitFor({ timeout: RUN_TIMEOUT });
    await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
    await page.screenshot({ path: join(SHOTS, 'ui-runs.png'), fullPage: false });
    await page.goto(`${stack.url}/agents`);
    await page.locator('tr[data-healthy="true"]').first().waitFor();
    const problems = b.problems.filter((p) => !/EventSource|net::ERR_ABORTED/.test(p));
    assert.deepEqual(problems, []);
  });
});
