// The web UI's cookie session against a hostile page and a hostile co-user, on a real control
// plane (socket, SQLite and PostgreSQL, a clock the test moves): GraphQL over GET never writes,
// a cookie request from another site or origin is refused on reads too, what an HTML form can
// send writes nothing, a planted session id is never adopted, signing in again ends the session
// the browser held, sessions and sign-in codes end when they say, and a sign-in code never rides
// in a URL the server reads. Each refused write is checked against the state it would change.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { SESSION_TTL_MS, SIGNIN_CODE_TTL_MS } from '../../../src/control-plane/store/sessions.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

interface Answer {
  status: number;
  code?: string;
  data?: Record<string, unknown> | null;
}

interface Session {
  /** The Cookie header the browser sends. */
  cookie: string;
  sessionId: string;
  csrf: string;
  setCookies: string[];
}

const STOP_SCHEDULE =
  'mutation { setScheduleState(location: "hello", name: "every_minute", state: RUNNING) { state } }';

describeEachDialect('attack: CSRF and sessions of the web UI', (target) => {
  let cp: ControlPlane;
  const clock = { now: Date.UTC(2026, 0, 1, 12) };
  let admin = '';
  let editor = '';
  let editorId = '';

  async function answer(res: Response): Promise<Answer> {
    const text = await res.text();
    let body: { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not JSON: status only
    }
    return { status: res.status, code: body.errors?.[0]?.extensions?.code, data: body.data };
  }

  const bearer = async (query: string, variables: Record<string, unknown> = {}) =>
    answer(
      await fetch(`${cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query, variables }),
      }),
    );

  async function scheduleState(): Promise<string> {
    const r = await bearer('{ codeLocation(name: "hello") { schedules { name state } } }');
    const loc = r.data?.codeLocation as { schedules: { name: string; state: string }[] };
    return loc.schedules.find((s) => s.name === 'every_minute')!.state;
  }

  async function signIn(body: Record<string, string>, planted = ''): Promise<Session> {
    const res = await fetch(`${cp.url}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: cp.url,
        ...(planted ? { cookie: planted } : {}),
      },
      body: new URLSearchParams(body).toString(),
    });
    assert.equal(res.status, 303, `sign-in answered ${res.status}`);
    const setCookies = res.headers.getSetCookie();
    const pairs = setCookies.map((c) => c.split(';')[0]!);
    const value = (name: string) => decodeURIComponent(pairs.find((p) => p.startsWith(`${name}=`))!.split('=')[1]!);
    return {
      cookie: pairs.join('; '),
      sessionId: value('outpost_session'),
      csrf: value('outpost_csrf'),
      setCookies,
    };
  }

  /** `{ me { name } }` with the session's cookie (a same-origin page's read). */
  async function me(s: Pick<Session, 'cookie'>): Promise<Answer> {
    return answer(
      await fetch(`${cp.url}/graphql?query=${encodeURIComponent('{ me { name } }')}`, {
        headers: { cookie: s.cookie },
      }),
    );
  }

  before(async () => {
    cp = await startControlPlane({
      databaseUrl: await target.freshUrl(),
      port: 0,
      logger: createLogger({ name: 'csrf', level: 'silent' }),
      daemon: false,
      clock: () => clock.now,
      web: { temporalUiUrl: 'http://127.0.0.1:8233', temporalNamespace: 'default' },
    });
    admin = await cp.issueToken('user', 'admin');
    const made = await bearer('mutation { createToken(kind: USER, name: "editor", role: EDITOR) { id token } }');
    ({ id: editorId, token: editor } = made.data!.createToken as { id: string; token: string });
    // hello LOADED (its schedule every_minute RUNNING), reported by a real agent token.
    const agentToken = await cp.issueToken('agent', 'agent');
    const agent = async (query: string, variables: Record<string, unknown>) =>
      (
        await fetch(`${cp.url}/agent/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken}` },
          body: JSON.stringify({ query, variables }),
        })
      ).json() as Promise<{ data: Record<string, unknown> }>;
    const reg = await agent('mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }', {
      i: { name: 'a', hostname: 'h', version: '0', taskQueue: 'q' },
    });
    const agentId = (reg.data.registerAgent as { agentId: string }).agentId;
    const dep = await bearer(
      'mutation { deployCodeLocation(input: { name: "hello", module: "examples/hello/definitions.ts" }) { version } }',
    );
    const version = (dep.data!.deployCodeLocation as { version: number }).version;
    const claim = await agent('mutation($a: ID!) { claimWork(agentId: $a, limit: 1, waitMs: 0) { id } }', {
      a: agentId,
    });
    const [sync] = claim.data.claimWork as { id: string }[];
    await agent('mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }', {
      a: agentId,
      i: sync!.id,
      w: `wi-${sync!.id}`,
    });
    await agent('mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }', {
      i: { agentId, location: 'hello', version, status: 'LOADED', snapshot: SNAPSHOT },
    });
    assert.equal(await scheduleState(), 'RUNNING');
  });
  after(async () => {
    await cp?.close();
  });

  test('GraphQL over GET never writes: a mutation in the URL is refused, CSRF header or not', async () => {
    const s = await signIn({ token: editor });
    const url = `${cp.url}/graphql?query=${encodeURIComponent(STOP_SCHEDULE)}`;
    const tries: Record<string, string>[] = [
      { cookie: s.cookie },
      { cookie: s.cookie, 'x-outpost-csrf': s.csrf, origin: cp.url },
      { cookie: s.cookie, 'sec-fetch-site': 'same-origin' },
    ];
    for (const headers of tries) {
      const r = await answer(await fetch(url, { headers }));
      assert.ok(r.status >= 400, `GET mutation answered ${r.status}`);
      assert.ok(!r.data, 'no data');
    }
    assert.equal(await scheduleState(), 'RUNNING');
  });

  test('a cookie request from another site or origin is refused, reads and the subscription included', async () => {
    const s = await signIn({ token: editor });
    assert.equal((await me(s)).status, 200, 'a same-origin read works');
    const read = `${cp.url}/graphql?query=${encodeURIComponent('{ me { name role } }')}`;
    // An <img>, a top-level navigation or a fetch from another port of this host (the same site,
    // so SameSite=Strict still sends the cookie): no Origin, or another one.
    const foreign: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
    ];
    for (const headers of foreign) {
      const r = await answer(await fetch(read, { headers: { cookie: s.cookie, ...headers } }));
      assert.deepEqual([r.status, r.code], [403, 'OUTPOST_ERR_CSRF'], JSON.stringify(headers));
      assert.ok(!r.data, 'no data');
      const sub = await fetch(
        `${cp.url}/graphql?query=${encodeURIComponent('subscription { runEvents(runId: "x") { seq } }')}`,
        {
          headers: { cookie: s.cookie, accept: 'text/event-stream', ...headers },
        },
      );
      assert.equal(sub.status, 403, `subscription ${JSON.stringify(headers)}`);
      await sub.body?.cancel();
    }
  });

  test('what an HTML form can send writes nothing, with or without the CSRF header', async () => {
    const s = await signIn({ token: editor });
    const json = JSON.stringify({ query: STOP_SCHEDULE });
    const form = new FormData();
    form.set('query', STOP_SCHEDULE);
    const bodies: [string, BodyInit, Record<string, string>][] = [
      ['text/plain', json, { 'content-type': 'text/plain' }],
      [
        'urlencoded',
        new URLSearchParams({ query: STOP_SCHEDULE }).toString(),
        { 'content-type': 'application/x-www-form-urlencoded' },
      ],
      ['multipart', form, {}],
    ];
    for (const [what, body, type] of bodies) {
      const extras: Record<string, string>[] = [
        { origin: cp.url },
        { 'x-outpost-csrf': s.csrf, origin: cp.url },
        { 'sec-fetch-site': 'same-site' },
      ];
      for (const extra of extras) {
        const r = await answer(
          await fetch(`${cp.url}/graphql`, { method: 'POST', body, headers: { cookie: s.cookie, ...type, ...extra } }),
        );
        const expected = 'x-outpost-csrf' in extra ? 'OUTPOST_ERR_UNSUPPORTED_MEDIA_TYPE' : 'OUTPOST_ERR_CSRF';
        assert.equal(r.code, expected, `${what} ${JSON.stringify(extra)}: ${r.status}`);
      }
    }
    assert.equal(await scheduleState(), 'RUNNING');
  });

  test('a planted session id is never adopted at sign-in (no fixation), nor its CSRF value', async () => {
    const attacker = await signIn({ token: admin });
    const guessed = `ops_${randomBytes(32).toString('base64url')}`;
    for (const planted of [guessed, attacker.sessionId]) {
      const victim = await signIn({ token: editor }, `outpost_session=${planted}; outpost_csrf=planted-csrf`);
      assert.notEqual(victim.sessionId, planted);
      assert.notEqual(victim.csrf, 'planted-csrf');
      const session = victim.setCookies.find((c) => c.startsWith('outpost_session='))!;
      for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/', `Max-Age=${SESSION_TTL_MS / 1000}`]) {
        assert.ok(session.split('; ').includes(flag), `${flag} in ${session}`);
      }
      // A guessed id never was one; the attacker's own ended when the browser signed in over it.
      assert.equal((await me({ cookie: `outpost_session=${planted}` })).status, 401, 'the planted id is no session');
      const who = await me(victim);
      assert.deepEqual(who.data, { me: { name: 'editor' } });
    }
  });

  test('signing in again ends the session the browser held before', async () => {
    const first = await signIn({ token: editor });
    assert.equal((await me(first)).status, 200);
    // The same browser signs in again (another token, or a sign-in link a co-user sent it).
    const second = await signIn({ token: admin }, first.cookie);
    assert.equal((await me(second)).status, 200);
    const old = await me(first);
    assert.deepEqual([old.status, old.code], [401, 'OUTPOST_ERR_UNAUTHENTICATED'], 'the replaced session ended');
  });

  test('a session ends at its expiry on the server, as its cookie says', async () => {
    const s = await signIn({ token: editor });
    clock.now += SESSION_TTL_MS - 1_000;
    assert.equal((await me(s)).status, 200);
    clock.now += 1_000;
    const r = await me(s);
    assert.deepEqual([r.status, r.code], [401, 'OUTPOST_ERR_UNAUTHENTICATED']);
    const page = await fetch(`${cp.url}/runs`, { redirect: 'manual', headers: { cookie: s.cookie } });
    assert.equal(page.status, 303);
    assert.match(page.headers.get('location') ?? '', /^\/signin/);
  });

  test('sign-in codes: never from a URL the server reads, gone after their TTL, dead with their token', async () => {
    const link = async (token: string) => {
      const res = await fetch(`${cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'mutation { createSignInLink { code path } }' }),
      });
      return ((await res.json()) as { data: { createSignInLink: { code: string; path: string } } }).data
        .createSignInLink;
    };
    const l = await link(editor);
    assert.match(l.path, /^\/signin#code=/, 'the code rides in the fragment, which no server sees');
    const viaQuery = await fetch(`${cp.url}/signin?code=${l.code}`, { redirect: 'manual' });
    assert.equal(viaQuery.headers.getSetCookie().length, 0, 'GET /signin?code= signs nobody in');
    await viaQuery.body?.cancel();

    const late = await link(editor);
    clock.now += SIGNIN_CODE_TTL_MS;
    const refusedLate = await fetch(`${cp.url}/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: cp.url },
      body: JSON.stringify({ code: late.code }),
    });
    assert.equal(refusedLate.status, 401);

    const revoked = await link(editor);
    const s = await signIn({ token: editor });
    await bearer('mutation($id: ID!) { revokeToken(id: $id) { id } }', { id: editorId });
    const refusedRevoked = await fetch(`${cp.url}/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: cp.url },
      body: JSON.stringify({ code: revoked.code }),
    });
    assert.equal(refusedRevoked.status, 401);
    assert.equal((await me(s)).status, 401, 'and its sessions end');
    // The original code, used after all that, is still refused (one use, and the token is gone).
    const reused = await fetch(`${cp.url}/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: cp.url },
      body: JSON.stringify({ code: l.code }),
    });
    assert.equal(reused.status, 401);
  });
});
