// Roles in a real browser (Chromium) against a real control plane on a port: a VIEWER signed in
// with a one-time link sees no launch, terminate, relaunch, reload, on/off or audit controls;
// the link works once; an ADMIN sees them and reads the audit log, refusals included.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../src/control-plane/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { SNAPSHOT } from '../support/control-plane-harness.js';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../support/browser.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

describe('roles in the web UI', { skip, timeout: 240_000 }, () => {
  let dir: string;
  let cp: ControlPlane;
  let viewer: TestBrowser;
  let admin: TestBrowser;
  let tokens: { viewer: string; admin: string; agent: string };
  let runId: string;

  async function call<T>(path: string, token: string, query: string, variables = {}): Promise<T> {
    const res = await fetch(`${cp.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!;
  }
  const signInPath = async (token: string): Promise<string> =>
    (await call<{ createSignInLink: { path: string } }>('/graphql', token, 'mutation { createSignInLink { path } }'))
      .createSignInLink.path;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-ui-roles-'));
    cp = await startControlPlane({
      databaseUrl: `sqlite:${join(dir, 'outpost.db')}`,
      port: 0,
      daemon: false,
      logger: createLogger({ name: 'control-plane', level: 'warn' }),
    });
    tokens = {
      viewer: await cp.issueToken('user', 'viewer-ui', 'VIEWER'),
      admin: await cp.issueToken('user', 'admin-ui', 'ADMIN'),
      agent: await cp.issueToken('agent', 'agent-ui'),
    };
    const dep = await call<{ deployCodeLocation: { version: number } }>(
      '/graphql',
      tokens.admin,
      'mutation { deployCodeLocation(input: { name: "hello", module: "examples/hello/definitions.ts" }) { version } }',
    );
    const reg = await call<{ registerAgent: { agentId: string } }>(
      '/agent/graphql',
      tokens.agent,
      'mutation { registerAgent(input: { name: "a", hostname: "h", version: "0", taskQueue: "q" }) { agentId } }',
    );
    // Only the agent asked to sync the version (it claimed the SYNC item) may report it.
    await call(
      '/agent/graphql',
      tokens.agent,
      'mutation($a: ID!) { claimWork(agentId: $a, limit: 5, waitMs: 0) { id } }',
      {
        a: reg.registerAgent.agentId,
      },
    );
    await call(
      '/agent/graphql',
      tokens.agent,
      'mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }',
      {
        i: {
          agentId: reg.registerAgent.agentId,
          location: 'hello',
          version: dep.deployCodeLocation.version,
          status: 'LOADED',
          snapshot: SNAPSHOT,
        },
      },
    );
    const run = await call<{ launchRun: { id: string } }>(
      '/graphql',
      tokens.admin,
      'mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }',
    );
    runId = run.launchRun.id;
    viewer = await launchBrowser();
    admin = await launchBrowser();
  });
  after(async () => {
    await viewer?.close();
    await admin?.close();
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the one-time link signs a VIEWER in once; opened again it is refused', async () => {
    const path = await signInPath(tokens.viewer);
    await viewer.page.goto(`${cp.url}${path}`);
    await viewer.page.waitForURL((u) => u.pathname === '/runs');
    assert.equal(await viewer.page.locator('.role-badge').textContent(), 'VIEWER');
    // The same link in the ADMIN's (signed-out) browser: already used.
    await admin.page.goto(`${cp.url}${path}`);
    await admin.page.locator('.form-error', { hasText: 'already used' }).waitFor();
    assert.equal(new URL(admin.page.url()).pathname, '/signin');
    assert.equal((await admin.context.cookies()).filter((c) => c.name === 'outpost_session').length, 0);
  });

  test('a VIEWER sees no launch, terminate, relaunch, reload, on/off or audit controls', async () => {
    const { page } = viewer;
    await page.goto(`${cp.url}/locations/hello/jobs/hello`);
    await page.locator('#launch-denied').waitFor();
    assert.equal(await page.locator('#launch').count(), 0);
    await page.goto(`${cp.url}/runs/${runId}`);
    await page.locator('#temporal-link').waitFor();
    assert.equal(await page.locator('#terminate').count(), 0);
    assert.equal(await page.locator('#relaunch').count(), 0);
    await page.goto(`${cp.url}/locations`);
    await page.locator('[data-location="hello"]').waitFor();
    assert.equal(await page.locator('[data-location="hello"] button', { hasText: 'Reload' }).count(), 0);
    await page.goto(`${cp.url}/automation`);
    const toggle = page.locator('[data-toggle="schedule:hello:every_minute"]');
    await toggle.waitFor();
    assert.equal(await toggle.isDisabled(), true);
    assert.equal(await page.locator('[data-nav="/audit"]').count(), 0);
    // Even typed in by hand, the audit page shows the API's refusal, not the log.
    await page.goto(`${cp.url}/audit`);
    await page.locator('.error-box, [role="alert"]').first().waitFor();
    assert.equal(await page.locator('#audit-rows tr[data-action]').count(), 0);
  });

  test('an ADMIN sees the controls and the audit log, refusals included', async () => {
    // A refusal to find in the log: the VIEWER tries to launch through the API with its session.
    const refused = await viewer.page.evaluate(async () => {
      const csrf = /outpost_csrf=([^;]+)/.exec(document.cookie)?.[1] ?? '';
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-outpost-csrf': decodeURIComponent(csrf) },
        body: JSON.stringify({ query: 'mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }' }),
      });
      return (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    });
    assert.equal(refused.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_ROLE_REQUIRED');

    const { page } = admin;
    await page.goto(`${cp.url}${await signInPath(tokens.admin)}`);
    await page.waitForURL((u) => u.pathname === '/runs');
    await page.goto(`${cp.url}/locations/hello/jobs/hello`);
    await page.locator('#launch').waitFor();
    await page.goto(`${cp.url}/runs/${runId}`);
    await page.locator('#terminate').waitFor();
    await page.locator('[data-nav="/audit"]').click();
    const row = page.locator('#audit-rows tr[data-action="launchRun"][data-outcome="OUTPOST_ERR_ROLE_REQUIRED"]');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /viewer-ui/);
    await page.locator('#audit-rows tr[data-action="deployCodeLocation"][data-outcome="ok"]').waitFor();
    const problems = [...viewer.problems, ...admin.problems].filter((p) => !/40[13]|Failed to load resource/.test(p));
    assert.deepEqual(problems, []);
  });
});
