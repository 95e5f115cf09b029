// Sessions in the web UI, in a real browser against a real control plane (seeded in-process by
// test/support/seeded-control-plane.ts): signed-out redirects, the one-time sign-in link and its
// cookies, CSRF refusals, sign-out. The pages themselves: ui-control-plane.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { ControlPlane } from '../../src/control-plane/index.js';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../support/browser.js';
import type { Vars } from '../support/graphql-call.js';
import type { ScriptedStack } from '../support/scripted-agent.js';
import { startSeededControlPlane } from '../support/seeded-control-plane.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

describe('web UI sessions against a real control plane', { skip, timeout: 300_000 }, () => {
  let s: ScriptedStack;
  let b: TestBrowser;
  let cp: ControlPlane;
  let agentId: string;
  const user = <T>(q: string, v?: Vars): Promise<T> => s.user<T>(q, v);
  const agent = <T>(q: string, v?: Vars): Promise<T> => s.agent<T>(q, v);
  let userToken: string;
  let agentToken: string;

  before(async () => {
    s = await startSeededControlPlane();
    ({ cp, agentId, userToken, agentToken } = s);
    b = await launchBrowser();
  });

  after(async () => {
    await b?.close();
    await s?.close();
  });

  test('signed-out pages send you to sign-in; a wrong token is refused', async () => {
    const { page } = b;
    // Health means a heartbeat within three intervals: send a fresh one, as a live agent does.
    await agent(
      'mutation($a: ID!) { heartbeat(input: { agentId: $a, codeServers: [{ location: "hello", status: LOADED }], runningRunIds: [] }) }',
      {
        a: agentId,
      },
    );
    await page.goto(`${cp.url}/agents`);
    assert.equal(new URL(page.url()).pathname, '/signin');
    await page.locator('#token').fill(agentToken);
    await page.locator('#signin-form button').click();
    await page.locator('.form-error', { hasText: 'not a valid user token' }).waitFor();
    assert.equal((await b.context.cookies()).length, 0);
  });

  test('a used #code= link is refused on the page, saying how to get a fresh one', async () => {
    const { page } = b;
    const { createSignInLink } = await user<{ createSignInLink: { path: string; code: string } }>(
      'mutation { createSignInLink { path code } }',
    );
    const first = await fetch(`${cp.url}/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: cp.url },
      body: JSON.stringify({ code: createSignInLink.code }),
    });
    assert.equal(first.status, 200, 'the code is used once, elsewhere');
    await page.goto(`${cp.url}${createSignInLink.path}`);
    const error = page.locator('.form-error', { hasText: 'expired or was already used' });
    await error.waitFor();
    assert.match(await error.innerText(), /outpost signin-link/);
    assert.equal(new URL(page.url()).pathname, '/signin');
    assert.ok(!page.url().includes(createSignInLink.code), 'the code is cleared from the URL');
    assert.equal((await b.context.cookies()).length, 0);
  });

  test('the one-time #code= link signs in, clears the code from the URL, and sets an httpOnly cookie', async () => {
    const { page } = b;
    const { createSignInLink } = await user<{ createSignInLink: { path: string; code: string } }>(
      'mutation { createSignInLink { path code } }',
    );
    await page.goto(`${cp.url}${createSignInLink.path}`);
    await page.waitForURL((u) => u.pathname === '/runs');
    assert.ok(!page.url().includes(createSignInLink.code));
    const visible = await page.evaluate(() => window.location.href + document.cookie);
    assert.ok(!visible.includes(userToken) && !visible.includes(createSignInLink.code));
    const history = await page.evaluate(() => window.history.length);
    assert.ok(history >= 1);
    const cookies = await b.context.cookies();
    const session = cookies.find((c) => c.name === 'outpost_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(cookies.find((c) => c.name === 'outpost_csrf')?.httpOnly, false);
  });

  test('CSRF: a write without the header, or from another origin, is refused and changes nothing', async () => {
    const { page } = b;
    await page.goto(`${cp.url}/runs`);
    const noHeader = await page.evaluate(async () => {
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation { setScheduleState(location: "hello", name: "every_minute", state: RUNNING) { state } }',
        }),
      });
      return { status: res.status, body: await res.text() };
    });
    assert.equal(noHeader.status, 403);
    assert.match(noHeader.body, /OUTPOST_ERR_CSRF/);

    // Another origin on the same host (same site, so SameSite alone would not stop it) posts a
    // form that smuggles a JSON mutation; the browser sends the cookie, the server refuses.
    const evil: Server = createServer((_req, res) => {
      const query = JSON.stringify({
        query: 'mutation { setScheduleState(location: "hello", name: "every_minute", state: RUNNING) { state } }',
        x: '',
      });
      const name = query.slice(0, -2);
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(
          `<form id=f method=post enctype="text/plain" action="${cp.url}/graphql"><input name='${name}' value='"}'></form><script>f.submit()</script>`,
        );
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (evil.address() as { port: number }).port;
      const answer = page.waitForResponse((r) => r.url() === `${cp.url}/graphql`);
      await page.goto(`http://127.0.0.1:${port}/`);
      assert.equal((await answer).status(), 403);
    } finally {
      evil.close();
    }
    const after = await user<{ codeLocation: { schedules: Array<{ name: string; state: string }> } }>(
      '{ codeLocation(name: "hello") { schedules { name state } } }',
    );
    assert.equal(after.codeLocation.schedules.find((s) => s.name === 'every_minute')?.state, 'STOPPED');
  });

  test("a co-user's sign-in link opened in a signed-in browser asks before switching users", async () => {
    const { page } = b;
    const coUser = await cp.issueToken('user', 'co-user', 'VIEWER');
    const linkOf = async () => {
      const res = await fetch(`${cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${coUser}` },
        body: JSON.stringify({ query: 'mutation { createSignInLink { path } }' }),
      });
      return ((await res.json()) as { data: { createSignInLink: { path: string } } }).data.createSignInLink.path;
    };
    const session = async () => (await b.context.cookies()).find((c) => c.name === 'outpost_session')?.value;
    const mine = await session();
    assert.ok(mine, 'signed in before');
    // Sent a link, you are asked; keeping your session leaves it as it was.
    await page.goto(`${cp.url}${await linkOf()}`);
    await page.locator('#switch-session').waitFor();
    assert.ok(!page.url().includes('code='), 'the code is cleared from the URL while asking');
    assert.equal(await session(), mine, 'nothing changed while asking');
    await page.locator('#switch-session-keep').click();
    await page.waitForURL((u) => u.pathname === '/runs');
    assert.notEqual(await page.locator('.role-badge').textContent(), 'VIEWER');
    assert.equal(await session(), mine);
    // Confirmed, the link signs in as its user.
    await page.goto(`${cp.url}${await linkOf()}`);
    await page.locator('#switch-session-confirm').click();
    await page.waitForURL((u) => u.pathname === '/runs');
    assert.equal(await page.locator('.role-badge').textContent(), 'VIEWER');
    assert.notEqual(await session(), mine);
  });

  test('sign out ends the session', async () => {
    const { page } = b;
    await page.goto(`${cp.url}/runs`);
    await page.locator('#signout').click();
    await page.waitForURL((u) => u.pathname === '/signin');
    assert.equal((await b.context.cookies()).filter((c) => c.name.startsWith('outpost_')).length, 0);
    await page.goto(`${cp.url}/runs`);
    assert.equal(new URL(page.url()).pathname, '/signin');
    const problems = b.problems.filter((p) => !/40[13]|Failed to load resource/.test(p));
    assert.deepEqual(problems, []);
  });
});
