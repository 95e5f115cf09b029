// The web handler through its fetch interface (no port): sign-in with a real user token or a
// one-time code from a real SQLite store, server-side sessions, cookie attributes, CSRF rules,
// redirects (`next` stays on this site), GraphiQL's page, assets and security headers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { createLogger } from '../../../src/shared/logger.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { createSigninCode, storeSessions } from '../../../src/control-plane/store/sessions.js';
import { createToken, revokeToken } from '../../../src/control-plane/store/tokens.js';
import { cookieAuth, createWebHandler, type WebHandler } from '../../../src/control-plane/web/index.js';

const BASE = 'http://127.0.0.1:3000';
let dir: string;
let store: Store;
let now = Date.now();
let web: WebHandler;
let userToken: string;
let userTokenId: string;
let agentToken: string;
const logLines: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-web-'));
  store = await Store.open({ url: `sqlite:${join(dir, 'outpost.db')}`, clock: () => now });
  ({ token: userToken, id: userTokenId } = await createToken(store, 'user', 'web-test'));
  ({ token: agentToken } = await createToken(store, 'agent', 'web-test-agent'));
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  web = createWebHandler({
    sessions: storeSessions(store),
    temporalUiUrl: 'http://127.0.0.1:8233/',
    temporalNamespace: 'default',
    logger: createLogger({ name: 'test', level: 'debug', destination: sink }),
  });
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await web(new Request(BASE + path, init));
  assert.ok(res, `the web handler should own ${path}`);
  return res;
}

function setCookies(res: Response): string[] {
  return res.headers.getSetCookie();
}

async function signIn(
  token: string,
  field: 'token' | 'code' = 'token',
  held?: string,
): Promise<{ res: Response; cookie: string; csrf: string }> {
  const res = await call('/signin', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: BASE, ...(held ? { cookie: held } : {}) },
    body: new URLSearchParams({ [field]: token, next: '/runs?status=FAILURE' }).toString(),
  });
  const cookies = setCookies(res).map((c) => c.split(';')[0]!);
  const csrf = cookies.find((c) => c.startsWith('outpost_csrf='))?.split('=')[1] ?? '';
  return { res, cookie: cookies.join('; '), csrf };
}

describe('web handler', () => {
  test('paths it does not own fall through', async () => {
    assert.equal(await web(new Request(`${BASE}/graphql`, { method: 'POST' })), undefined);
    assert.equal(await web(new Request(`${BASE}/agent/graphql`)), undefined);
    assert.equal(await web(new Request(`${BASE}/healthz`)), undefined);
  });

  test('app pages redirect to sign-in, keeping where you were going', async () => {
    const res = await call('/runs/run_123?x=1');
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/signin?next=%2Fruns%2Frun_123%3Fx%3D1');
  });

  test('a user token signs in: httpOnly SameSite=Strict session cookie, readable CSRF cookie', async () => {
    const { res, cookie } = await signIn(userToken);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/runs?status=FAILURE');
    assert.ok(!res.headers.get('location')?.includes(userToken), 'no token in the redirect');
    const [session, csrf] = setCookies(res);
    assert.match(session!, /^outpost_session=ops_/, 'an opaque session id, not the token');
    assert.ok(!session!.includes(userToken));
    assert.match(session!, /HttpOnly/);
    assert.match(session!, /SameSite=Strict/);
    assert.match(session!, /Path=\//);
    assert.doesNotMatch(session!, /Secure/, 'plain http: no Secure flag, or the browser drops it');
    assert.match(csrf!, /^outpost_csrf=[\w-]{20,}/);
    assert.doesNotMatch(csrf!, /HttpOnly/);
    const page = await call('/runs', { headers: { cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/ui\/app.js">/);
    assert.match(html, /content="http:\/\/127.0.0.1:8233"/, 'trailing slash trimmed from the Temporal UI URL');
    assert.ok(!html.includes(userToken));
  });

  test('Secure cookies over https', async () => {
    const res = await web(
      new Request('https://outpost.example/signin', {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://outpost.example' },
        body: JSON.stringify({ token: userToken }),
      }),
    );
    assert.ok(res);
    assert.equal(res.status, 200);
    for (const c of res.headers.getSetCookie()) assert.match(c, /; Secure/);
  });

  test('agent tokens, wrong tokens and revoked tokens are refused', async () => {
    for (const token of [agentToken, 'opu_wrong', '']) {
      const { res } = await signIn(token);
      assert.equal(res.status, 401);
      assert.equal(setCookies(res).length, 0);
      assert.match(await res.text(), /not a valid user token/);
    }
    const stale = await call('/runs', { headers: { cookie: `outpost_session=${userToken}` } });
    assert.equal(stale.status, 303, 'a raw token in the cookie (the old scheme) is no session');
    const { token, id } = await createToken(store, 'user', 'to-revoke');
    const { cookie } = await signIn(token);
    assert.equal((await call('/agents', { headers: { cookie } })).status, 200);
    await revokeToken(store, id);
    assert.equal((await call('/agents', { headers: { cookie } })).status, 303, 'revocation ends the session');
  });

  test('JSON sign-in answers JSON and never echoes the token', async () => {
    const res = await call('/signin', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: BASE },
      body: JSON.stringify({ token: userToken, next: '//evil.example/x' }),
    });
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.deepEqual(JSON.parse(body), { ok: true, next: '/runs' }, 'open redirect refused');
    assert.ok(!body.includes(userToken));
  });

  test('sign-in and sign-out refusals take the one error shape of every API', async () => {
    const coded = async (res: Response, status: number, code: string): Promise<string> => {
      assert.equal(res.status, status);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(res.headers.get('content-security-policy'), 'the web UI security headers');
      const body = (await res.json()) as {
        error?: unknown;
        errors?: Array<{ message: string; extensions: { code: string; hint: string; http: number } }>;
      };
      assert.equal(body.error, undefined, 'not the old `{ error: { code, message } }`');
      assert.equal(body.errors?.length, 1, JSON.stringify(body));
      const e = body.errors?.[0];
      assert.ok(e);
      assert.equal(e.extensions.code, code);
      assert.equal(e.extensions.http, status);
      assert.ok(e.extensions.hint.length > 10, 'says what to do next');
      return e.message;
    };
    const json = (body: unknown, origin = BASE): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify(body),
    });
    const { code } = await createSigninCode(store, userTokenId);
    assert.equal((await call('/signin', json({ code }))).status, 200);
    const used = await coded(await call('/signin', json({ code })), 401, 'OUTPOST_ERR_UNAUTHENTICATED');
    assert.match(used, /expired or was already used/);
    assert.match(used, /outpost signin-link/, 'says how to get a fresh link');
    await coded(await call('/signin', json({ token: userToken }, 'http://evil.example')), 403, 'OUTPOST_ERR_CSRF');
    const malformed = await call('/signin', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: BASE },
      body: '{',
    });
    await coded(malformed, 400, 'OUTPOST_ERR_BAD_REQUEST');
    const { cookie } = await signIn(userToken);
    await coded(await call('/signout', { method: 'POST', headers: { cookie } }), 403, 'OUTPOST_ERR_CSRF');
  });

  test('cross-site sign-in is refused', async () => {
    const res = await call('/signin', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
      body: `token=${userToken}`,
    });
    assert.equal(res.status, 403);
    assert.equal(setCookies(res).length, 0);
  });

  test('cookieAuth: writes need the CSRF header equal to the cookie and a same-origin Origin', async () => {
    const { cookie, csrf } = await signIn(userToken);
    const post = (headers: Record<string, string>): Request =>
      new Request(`${BASE}/graphql`, { method: 'POST', headers: { cookie, ...headers } });
    const sessionId = /outpost_session=([^;]+)/.exec(cookie)![1]!;
    assert.deepEqual(cookieAuth(post({ 'x-outpost-csrf': csrf, origin: BASE })), { sessionId, csrfOk: true });
    assert.equal(
      cookieAuth(post({ 'x-outpost-csrf': csrf })).csrfOk,
      true,
      'no Origin (same-origin fetch may omit it)',
    );
    assert.equal(cookieAuth(post({})).csrfOk, false, 'no header');
    assert.equal(cookieAuth(post({ 'x-outpost-csrf': `${csrf}x` })).csrfOk, false, 'wrong header');
    assert.equal(cookieAuth(post({ 'x-outpost-csrf': csrf, origin: 'http://evil.example' })).csrfOk, false);
    assert.equal(cookieAuth(post({ 'x-outpost-csrf': csrf, 'sec-fetch-site': 'cross-site' })).csrfOk, false);
    assert.equal(cookieAuth(post({ 'x-outpost-csrf': csrf, origin: 'null' })).csrfOk, false, 'opaque origin');
    const get = new Request(`${BASE}/graphql?query={agents{id}}`, { headers: { cookie } });
    assert.deepEqual(cookieAuth(get), { sessionId, csrfOk: true });
    assert.deepEqual(cookieAuth(new Request(`${BASE}/graphql`, { method: 'POST' })), {
      sessionId: undefined,
      csrfOk: false,
    });
  });

  test('sign-out needs the CSRF header, clears both cookies and ends the session server-side', async () => {
    const { cookie, csrf } = await signIn(userToken);
    assert.equal((await call('/signout', { method: 'POST', headers: { cookie } })).status, 403);
    assert.equal((await call('/runs', { headers: { cookie } })).status, 200, 'a refused sign-out ends nothing');
    const res = await call('/signout', { method: 'POST', headers: { cookie, 'x-outpost-csrf': csrf, origin: BASE } });
    assert.equal(res.status, 200);
    const cleared = setCookies(res);
    assert.equal(cleared.length, 2);
    for (const c of cleared) assert.match(c, /Max-Age=0/);
    // A copy of the old cookie (kept by an attacker, or a browser that ignored Max-Age=0) is dead.
    assert.equal((await call('/runs', { headers: { cookie } })).status, 303);
  });

  test('a sign-in that cannot end the session the browser held fails, and opens none', async () => {
    const first = await signIn(userToken);
    const sessions = async () => (await store.db.selectFrom('sessions').select('id_hash').execute()).length;
    // The database refuses to end a session (as a full disk or a lost connection would).
    await sql`CREATE TRIGGER keep_sessions BEFORE UPDATE OF revoked_at ON sessions
      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`.execute(store.db);
    try {
      const before = await sessions();
      for (const wantsJson of [false, true]) {
        const res = await call('/signin', {
          method: 'POST',
          headers: wantsJson
            ? { 'content-type': 'application/json', origin: BASE, cookie: first.cookie }
            : { 'content-type': 'application/x-www-form-urlencoded', origin: BASE, cookie: first.cookie },
          body: wantsJson ? JSON.stringify({ token: userToken }) : new URLSearchParams({ token: userToken }).toString(),
        });
        assert.equal(res.status, 500, 'the sign-in says it did not happen');
        assert.deepEqual(setCookies(res), [], 'no new session cookie');
        const body = await res.text();
        assert.match(body, /sign-in did not complete/);
        if (wantsJson) {
          const answer = JSON.parse(body) as { errors: { extensions: { code: string } }[] };
          assert.equal(answer.errors[0]?.extensions.code, 'OUTPOST_ERR_INTERNAL');
        }
      }
      assert.equal(await sessions(), before, 'no session was opened beside the one that could not end');
    } finally {
      await sql`DROP TRIGGER keep_sessions`.execute(store.db);
    }
    // Once the database takes it, signing in over the old session ends it.
    const second = await signIn(userToken, 'token', first.cookie);
    assert.equal(second.res.status, 303);
    assert.equal((await call('/runs', { headers: { cookie: second.cookie } })).status, 200);
    assert.equal(
      (await call('/runs', { headers: { cookie: first.cookie } })).status,
      303,
      'the replaced session ended',
    );
  });

  test('a one-time sign-in code works once, and not after it expires', async () => {
    const { code } = await createSigninCode(store, userTokenId);
    const first = await signIn(code, 'code');
    assert.equal(first.res.status, 303);
    assert.equal((await call('/runs', { headers: { cookie: first.cookie } })).status, 200);
    const again = await signIn(code, 'code');
    assert.equal(again.res.status, 401, 'used once already');
    assert.equal(setCookies(again.res).length, 0);
    const page = await again.res.text();
    assert.match(page, /expired or was already used/);
    assert.match(page, /outpost signin-link/, 'the refusal says how to get a fresh link');
    const late = await createSigninCode(store, userTokenId);
    now += 11 * 60_000;
    try {
      assert.equal((await signIn(late.code, 'code')).res.status, 401, 'expired');
    } finally {
      now -= 11 * 60_000;
    }
  });

  test('`next` with tabs, newlines, backslashes, // or a scheme lands on /runs, never off-site or a 500', async () => {
    const nexts = ['/\t/evil.example', '/\n/x', '/\\evil.example', '//evil.example', 'https://evil.example', '/\r\n/x'];
    for (const next of nexts) {
      const raw = JSON.stringify(next);
      const res = await call('/signin', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: BASE },
        body: new URLSearchParams({ token: userToken, next }).toString(),
      });
      assert.equal(res.status, 303, raw);
      assert.equal(res.headers.get('location'), '/runs', raw);
      const page = await call(`/signin?next=${encodeURIComponent(next)}`);
      assert.equal(page.status, 200, raw);
      assert.match(await page.text(), /name="next" value="\/runs"/, raw);
    }
  });

  test('GraphiQL needs a session and carries the UI headers', async () => {
    const anon = await call('/graphql', { headers: { accept: 'text/html' } });
    assert.equal(anon.status, 303);
    assert.equal(anon.headers.get('location'), '/signin?next=%2Fgraphql');
    const { cookie } = await signIn(userToken);
    const res = await call('/graphql', { headers: { accept: 'text/html', cookie } });
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self' 'nonce-[\w-]+'/);
    assert.doesNotMatch(csp, /unsafe-eval/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const nonce = /'nonce-([\w-]+)'/.exec(csp)![1]!;
    assert.ok((await res.text()).includes(`<script nonce="${nonce}">`));
  });

  test('assets are served with ETags, a strict CSP and no inline script', async () => {
    const res = await call('/ui/app.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/javascript/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self';/);
    const etag = res.headers.get('etag')!;
    assert.equal((await call('/ui/app.js', { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await call('/ui/nope.js')).status, 404);
    assert.equal((await call('/ui/..%2Findex.ts')).status, 404);
    assert.equal(await web(new Request(`${BASE}/ui/../index.ts`)), undefined, 'URL parsing resolves the dots first');
    const signin = await (await call('/signin')).text();
    assert.doesNotMatch(signin, /<script>(?!<\/script>)/, 'no inline script');
  });

  test('no token reaches the log', () => {
    const log = logLines.join('');
    assert.ok(log.includes('sign-in'), 'sign-ins are logged');
    assert.ok(!log.includes(userToken) && !log.includes(agentToken));
    assert.ok(userTokenId);
  });
});
