// GraphiQL at /graphql in a real browser: bundled (works with no network beyond 127.0.0.1),
// and, once signed in to the web UI, its queries run on the session cookie with the CSRF header.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../src/control-plane/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../support/browser.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

describe('GraphiQL', { skip, timeout: 180_000 }, () => {
  let dir: string;
  let cp: ControlPlane;
  let b: TestBrowser;
  let userToken: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-graphiql-'));
    cp = await startControlPlane({
      databaseUrl: `sqlite:${join(dir, 'outpost.db')}`,
      port: 0,
      daemon: false,
      logger: createLogger({ name: 'control-plane', level: 'warn' }),
    });
    userToken = await cp.issueToken('user', 'graphiql');
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('loads without any outside request and runs a query on the web session', async () => {
    const outside: string[] = [];
    b.page.on('request', (r) => {
      const url = new URL(r.url());
      if (!['127.0.0.1', 'localhost'].includes(url.hostname) && !['data:', 'blob:'].includes(url.protocol))
        outside.push(r.url());
    });
    const link = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
      body: JSON.stringify({ query: 'mutation { createSignInLink { path } }' }),
    });
    const { data } = (await link.json()) as { data: { createSignInLink: { path: string } } };
    await b.page.goto(`${cp.url}${data.createSignInLink.path}`);
    await b.page.waitForURL((u) => !u.pathname.startsWith('/signin'));
    await b.page.goto(`${cp.url}/graphql`);
    await b.page.locator('.graphiql-execute-button').first().waitFor();
    const answer = b.page.waitForResponse(
      (r) =>
        r.url().startsWith(`${cp.url}/graphql`) &&
        r.request().method() === 'POST' &&
        (r.request().postData() ?? '').includes('runs'),
    );
    await b.page.locator('.graphiql-query-editor').first().click();
    await b.page.keyboard.press('Control+A');
    await b.page.keyboard.press('Backspace');
    await b.page.keyboard.insertText('{ runs(first: 5) { nodes { id status } } }');
    await b.page.locator('.graphiql-execute-button').first().click();
    const res = await answer;
    assert.equal(res.status(), 200);
    const body = (await res.json()) as { data?: { runs: { nodes: unknown[] } }; errors?: unknown[] };
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(body.data?.runs.nodes, []);
    assert.deepEqual(outside, [], 'GraphiQL must not fetch from a CDN');
  });
});
