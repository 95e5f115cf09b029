// The launch form's partition picker for a set of 100,000 static keys, in a real browser against
// a real `outpost dev` (Temporal, control plane, agent) serving
// test/fixtures/user-code/big-partitions: the search's suggestions are listed in the page and
// picked by click or by keys, the picked key launches and its run succeeds, and typing a search
// costs no audit row and at most one work item per distinct search.
// Set OUTPOST_E2E_SHOTS=<dir> to keep screenshots of the search and the run.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { browserSkipReason, debugShot, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startDevStack, type DevStack } from '../support/dev-stack.js';
import { until } from '../support/wait.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

const BIG = resolve(import.meta.dirname, '..', 'fixtures', 'user-code', 'big-partitions', 'definitions.ts');

describe('the partition picker of a 100,000-key set in the browser', { skip, timeout: 600_000 }, () => {
  let stack: DevStack;
  let b: TestBrowser;

  /** Work items the control plane made for code-location questions (each one an agent's round trip). */
  const queryItems = async (): Promise<number> => {
    const r = await stack.graphql<{ workItems: Array<{ kind: string }> }>(
      `{ workItems(filter: { kind: QUERY_CODE_LOCATION }, first: 1000) { kind } }`,
    );
    return r.workItems.length;
  };

  before(async () => {
    stack = await startDevStack();
    await stack.graphql(`mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`, {
      i: { name: 'big', module: BIG },
    });
    await until(
      'big LOADED',
      async () => {
        const r = await stack.graphql<{ codeLocation: { status: string; loadError: string | null } }>(
          `{ codeLocation(name: "big") { status loadError } }`,
        );
        assert.notEqual(r.codeLocation.status, 'ERROR', r.codeLocation.loadError ?? '');
        return r.codeLocation.status === 'LOADED' ? r : undefined;
      },
      180_000,
      500,
    );
    b = await launchBrowser();
    await b.page.goto(stack.signInLink);
    await b.page.waitForURL((u) => u.pathname === '/runs');
  });
  after(async () => {
    await b?.close();
    await stack?.stop();
  });

  test('search, pick a suggestion in the page, launch: the run of that key succeeds', async () => {
    const { page } = b;
    await page.goto(`${stack.url}/locations/big/jobs/shard`);
    const input = page.locator('#partition-key');
    await input.waitFor();
    // Nothing but real problems under the config editor (it once read "null").
    assert.equal((await page.locator('#config-problems').innerText()).trim(), '');
    assert.match(await page.locator('#partition-hint').innerText(), /100,000 keys/);
    await input.click();
    const list = page.locator('#partition-suggestions');
    await list.waitFor();
    assert.equal(await list.locator('[role="option"]').first().getAttribute('data-key'), 'k000000');

    const before = await queryItems();
    await input.pressSequentially('0999', { delay: 60 });
    await page.locator('#partition-search-status', { hasText: '120 matches, first 50 shown' }).waitFor();
    assert.equal(await list.locator('[role="option"]').count(), 50);
    // Keys: down twice picks the second suggestion, Enter picks it rather than submitting.
    await input.press('ArrowDown');
    await input.press('ArrowDown');
    await input.press('Enter');
    assert.equal(await input.inputValue(), 'k009990');
    assert.equal(page.url(), `${stack.url}/locations/big/jobs/shard`, 'Enter picked, it did not launch');

    // A narrower search, then a click on its one suggestion.
    await input.fill('');
    await input.pressSequentially('99999', { delay: 60 });
    await page.locator('#partition-search-status', { hasText: '1 match.' }).waitFor();
    await debugShot(page, 'partition-picker-search');
    await list.locator('[data-key="k099999"]').click();
    assert.equal(await input.inputValue(), 'k099999');
    assert.ok(await list.isHidden(), 'the list closes once a key is picked');
    // Searching cost a work item per distinct search the set's snapshot could not answer, not
    // one per keystroke ("0", "09", … are debounced away or narrowed from a complete answer).
    const asked = (await queryItems()) - before;
    assert.ok(asked >= 1 && asked <= 4, `${asked} QUERY_CODE_LOCATION work items for two typed searches`);

    await page.locator('#launch').click();
    await page.waitForURL(/\/runs\/run_/);
    await page.locator('h1 [data-status="SUCCESS"]').waitFor({ timeout: 120_000 });
    assert.match(await page.locator('.fact', { hasText: 'Tags' }).innerText(), /shard=k099999/);
    await debugShot(page, 'partition-picker-run');
  });

  test('typed searches write no audit row; the same search again asks no agent', async () => {
    const { page } = b;
    const audit = await stack.graphql<{ auditLog: { nodes: Array<{ action: string }> } }>(
      `{ auditLog(first: 200) { nodes { action } } }`,
    );
    const actions = audit.auditLog.nodes.map((n) => n.action);
    assert.ok(actions.includes('launchRun'), actions.join(','));
    assert.deepEqual(
      actions.filter((a) => a === 'queryCodeLocation'),
      [],
    );
    await page.goto(`${stack.url}/locations/big/jobs/shard`);
    const input = page.locator('#partition-key');
    const before = await queryItems();
    await input.click();
    await input.pressSequentially('99999', { delay: 60 });
    await page.locator('#partition-search-status', { hasText: '1 match.' }).waitFor();
    assert.equal((await queryItems()) - before, 0, 'answered from the recent search');
  });
});
