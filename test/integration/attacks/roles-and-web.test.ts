// The attacks of issue 13 items 3-5 against a real control plane on a socket (SQLite and
// PostgreSQL): an ordinary token deploying commands or paths outside the module roots, minting
// or revoking tokens; a session cookie reused after sign-out; an off-site `next`; CORS echo;
// GraphiQL's headers. Each is refused with its code, changes no row, and lands in the audit log.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
} from 'graphql';
import { sql } from 'kysely';
import { can, requiredRole } from '../../../src/control-plane/core/roles.js';
import { createUserSchema } from '../../../src/control-plane/graphql/user-schema.js';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { STORE_TABLES } from '../../../src/control-plane/store/schema.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';

/** A sample value of an input type: enough to get past validation to the role check. */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type)) out[f.name] = sample(f.type);
    return out;
  }
  if (isScalarType(type)) {
    return ({ Int: 1, Float: 1, Boolean: true, JSON: {} } as Record<string, unknown>)[type.name] ?? 'x';
  }
  return null;
}

interface GqlError {
  message: string;
  extensions?: { code?: string; http?: number };
}
interface Gql<T> {
  status: number;
  data?: T;
  errors?: GqlError[];
}

describeEachDialect('attacks: roles, sessions and web', (target) => {
  let cp: ControlPlane;
  let dir: string;
  let root: string;
  const tok: Record<'viewer' | 'launcher' | 'editor' | 'admin' | 'other', string> = {} as never;
  const ids: Record<string, string> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-attacks-'));
    // The module root: one allowed module, and a symlink that points out of it.
    root = join(dir, 'repo');
    mkdirSync(join(root, 'loc'), { recursive: true });
    writeFileSync(join(root, 'loc', 'definitions.ts'), 'export default {};\n');
    symlinkSync('/etc', join(root, 'etc-link'));
    writeFileSync(join(dir, 'outside.ts'), 'export default {};\n');
    cp = await startControlPlane({
      databaseUrl: await target.freshUrl(),
      port: 0,
      daemon: false,
      logger: createLogger({ name: 'attacks', level: 'silent' }),
      moduleRoots: [root],
      allowedOrigins: ['https://ops.example'],
    });
    tok.admin = await cp.issueToken('user', 'admin-1', 'ADMIN');
    tok.viewer = await cp.issueToken('user', 'viewer-1', 'VIEWER');
    tok.launcher = await cp.issueToken('user', 'launcher-1', 'LAUNCHER');
    tok.editor = await cp.issueToken('user', 'editor-1', 'EDITOR');
    tok.other = await cp.issueToken('user', 'other-1', 'EDITOR');
    const list = await gql<{ tokens: { id: string; name: string }[] }>(tok.admin, `{ tokens { id name } }`);
    for (const t of list.data!.tokens) ids[t.name] = t.id;
  });
  after(async () => {
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gql<T>(token: string | null, query: string, variables = {}, headers = {}): Promise<Gql<T>> {
    const res = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as Omit<Gql<T>, 'status'>) };
  }

  /** Every state row (not the audit log, which records refusals), minus token use times. */
  async function fingerprint(): Promise<string> {
    const parts: unknown[] = [];
    for (const t of STORE_TABLES) {
      const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(t)}`.execute(cp.store.db);
      parts.push(rows.rows.map((r) => JSON.stringify({ ...r, last_used_at: undefined, data: undefined })).sort());
    }
    return JSON.stringify(parts);
  }

  async function lastAudit(): Promise<{ actor: string; action: string; outcome: string; target: string | null }> {
    const res = await gql<{
      auditLog: { nodes: { actor: string; action: string; outcome: string; target: string }[] };
    }>(tok.admin, `{ auditLog(first: 1) { nodes { actor action outcome target } } }`);
    return res.data!.auditLog.nodes[0]!;
  }

  /** The call is refused with `code`, changes no row, and the audit log records the refusal. */
  async function refused(token: string, actor: string, action: string, code: string, query: string, vars = {}) {
    const before = await fingerprint();
    const res = await gql(token, query, vars);
    assert.equal(res.errors?.[0]?.extensions?.code, code, JSON.stringify(res));
    assert.equal(res.errors?.[0]?.extensions?.http, 403);
    assert.equal(await fingerprint(), before, 'a refused call changed the database');
    const a = await lastAudit();
    assert.deepEqual([a.actor, a.action, a.outcome], [actor, action, code]);
  }

  const DEPLOY = `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { name version } }`;

  test('an EDITOR cannot deploy a command (uid-0 shell on the agent host)', async () => {
    await refused(tok.editor, 'editor-1', 'deployCodeLocation', 'OUTPOST_ERR_ROLE_REQUIRED', DEPLOY, {
      i: { name: 'pwn', command: ['sh', '-c', `id > ${join(dir, 'pwned')}`] },
    });
  });

  test('an EDITOR cannot name /etc/shadow, a module outside the roots, `..` or a symlink out', async () => {
    const attempts = [
      { name: 'shadow', module: '/etc/shadow' },
      { name: 'outside', module: join(dir, 'outside.ts') },
      { name: 'dots', module: join(root, '..', 'outside.ts') },
      { name: 'dots2', module: '../outside.ts', workingDirectory: root },
      { name: 'link', module: join(root, 'etc-link', 'shadow') },
      { name: 'wd', module: 'etc/shadow', workingDirectory: '/' },
    ];
    for (const i of attempts) {
      await refused(tok.editor, 'editor-1', 'deployCodeLocation', 'OUTPOST_ERR_PATH_NOT_ALLOWED', DEPLOY, { i });
    }
    // Environment that makes Node or the loader run other code is a command in disguise.
    await refused(tok.editor, 'editor-1', 'deployCodeLocation', 'OUTPOST_ERR_ROLE_REQUIRED', DEPLOY, {
      i: { name: 'env', module: join(root, 'loc', 'definitions.ts'), env: { NODE_OPTIONS: `--import ${dir}/x.js` } },
    });
  });

  test('an EDITOR deploys and deletes a module under the roots; an ADMIN may deploy a command', async () => {
    const ok = await gql<{ deployCodeLocation: { name: string } }>(tok.editor, DEPLOY, {
      i: { name: 'inroot', module: 'loc/definitions.ts', workingDirectory: root },
    });
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
    await refused(
      tok.launcher,
      'launcher-1',
      'deleteCodeLocation',
      'OUTPOST_ERR_ROLE_REQUIRED',
      `mutation { deleteCodeLocation(name: "inroot") { name } }`,
    );
    const del = await gql<{ deleteCodeLocation: { name: string } }>(
      tok.editor,
      `mutation { deleteCodeLocation(name: "inroot") { name } }`,
    );
    assert.equal(del.data?.deleteCodeLocation.name, 'inroot');
    const gone = await gql<{ codeLocation: unknown }>(tok.viewer, `{ codeLocation(name: "inroot") { name } }`);
    assert.equal(gone.data?.codeLocation, null);
    // Deployed again under the same name, it is synced again (a fresh SYNC item, past the old version).
    await gql(tok.editor, DEPLOY, { i: { name: 'inroot', module: 'loc/definitions.ts', workingDirectory: root } });
    const items = await gql<{ workItems: { payload: { location: string } }[] }>(
      tok.viewer,
      `{ workItems(filter: { kind: SYNC_CODE_LOCATION }) { payload } }`,
    );
    assert.equal(items.data!.workItems.filter((w) => w.payload.location === 'inroot').length, 2);
    const admin = await gql(tok.admin, DEPLOY, { i: { name: 'cmd', command: ['node', 'server.js', '{port}'] } });
    assert.equal(admin.errors, undefined, JSON.stringify(admin.errors));
    assert.equal((await lastAudit()).outcome, 'ok');
  });

  test('every mutation above VIEWER refuses a VIEWER token, whatever its arguments', async () => {
    const mutations = Object.values(createUserSchema().getMutationType()!.getFields());
    let checked = 0;
    for (const m of mutations) {
      if (can('VIEWER', m.name)) continue;
      const args = m.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
      const pass = m.args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const vars = Object.fromEntries(m.args.map((a) => [a.name, sample(a.type)]));
      const sel = isScalarType(getNamedType(m.type)) || isEnumType(getNamedType(m.type)) ? '' : '{ __typename }';
      const q = `mutation${args ? `(${args})` : ''} { ${m.name}${pass ? `(${pass})` : ''} ${sel} }`;
      await refused(tok.viewer, 'viewer-1', m.name, 'OUTPOST_ERR_ROLE_REQUIRED', q, vars);
      checked++;
    }
    assert.ok(checked >= 10, `only ${checked} mutations checked`);
    assert.equal(requiredRole('createToken'), 'ADMIN');
  });

  test('VIEWER reads but cannot launch; LAUNCHER launches but cannot turn schedules on or off', async () => {
    const read = await gql<{ runs: { nodes: unknown[] } }>(tok.viewer, `{ runs { nodes { id } } }`);
    assert.equal(read.errors, undefined);
    await refused(
      tok.viewer,
      'viewer-1',
      'launchRun',
      'OUTPOST_ERR_ROLE_REQUIRED',
      `mutation { launchRun(input: { location: "cmd", job: "x" }) { id } }`,
    );
    await refused(
      tok.launcher,
      'launcher-1',
      'setScheduleState',
      'OUTPOST_ERR_ROLE_REQUIRED',
      `mutation { setScheduleState(location: "cmd", name: "s", state: RUNNING) { name } }`,
    );
    // Allowed through the role check: the launch then fails on its merits (the location is not loaded).
    const launch = await gql(tok.launcher, `mutation { launchRun(input: { location: "cmd", job: "x" }) { id } }`);
    assert.notEqual(launch.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_ROLE_REQUIRED');
  });

  test('an ordinary token cannot mint an admin token, revoke others, list tokens or read the audit log', async () => {
    await refused(
      tok.editor,
      'editor-1',
      'createToken',
      'OUTPOST_ERR_ROLE_REQUIRED',
      `mutation { createToken(kind: USER, name: "mine", role: ADMIN) { token } }`,
    );
    await refused(
      tok.editor,
      'editor-1',
      'createToken',
      'OUTPOST_ERR_ROLE_REQUIRED',
      `mutation { createToken(kind: AGENT, name: "agent") { token } }`,
    );
    await refused(
      tok.editor,
      'editor-1',
      'revokeToken',
      'OUTPOST_ERR_ROLE_REQUIRED',
      `mutation($id: ID!) { revokeToken(id: $id) { id } }`,
      { id: ids['other-1'] },
    );
    for (const q of [`{ tokens { id } }`, `{ auditLog { nodes { action } } }`]) {
      const res = await gql(tok.launcher, q);
      assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_ROLE_REQUIRED', q);
    }
    // ADMIN creates a token with a role; USER tokens default to VIEWER; AGENT tokens carry none.
    const made = await gql<{ createToken: { id: string; role: string | null } }>(
      tok.admin,
      `mutation { createToken(kind: USER, name: "n1") { id role } }`,
    );
    assert.equal(made.data?.createToken.role, 'VIEWER');
    const agent = await gql(tok.admin, `mutation { createToken(kind: AGENT, name: "ag", role: ADMIN) { id } }`);
    assert.equal(agent.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    const a = await gql<{ auditLog: { nodes: { actor: string; actorTokenId: string; action: string }[] } }>(
      tok.admin,
      `{ auditLog(first: 3, filter: { action: "createToken" }) { nodes { actor actorTokenId action } } }`,
    );
    assert.equal(a.data!.auditLog.nodes[0]!.actorTokenId, ids['admin-1']);
  });

  /** Signs in through the real socket; returns the cookie header and the CSRF value. */
  async function browserSignIn(
    body: Record<string, string>,
  ): Promise<{ status: number; cookie: string; csrf: string }> {
    const res = await fetch(`${cp.url}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: cp.url },
      body: new URLSearchParams(body).toString(),
    });
    const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
    return {
      status: res.status,
      cookie: cookies.join('; '),
      csrf: cookies.find((c) => c.startsWith('outpost_csrf='))?.split('=')[1] ?? '',
    };
  }

  test('a session cookie is worthless after sign-out, and after its token is revoked', async () => {
    const s = await browserSignIn({ token: tok.launcher });
    assert.equal(s.status, 303);
    assert.ok(!s.cookie.includes(tok.launcher), 'the cookie is not the token');
    const asBrowser = { cookie: s.cookie, 'x-outpost-csrf': s.csrf, origin: cp.url };
    assert.equal((await gql(null, `{ me { name role } }`, {}, asBrowser)).status, 200);
    const out = await fetch(`${cp.url}/signout`, { method: 'POST', headers: asBrowser });
    assert.equal(out.status, 200);
    const reused = await gql(null, `{ me { name } }`, {}, asBrowser);
    assert.equal(reused.status, 401);
    assert.equal(reused.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNAUTHENTICATED');

    const s2 = await browserSignIn({ token: tok.other });
    const b2 = { cookie: s2.cookie, 'x-outpost-csrf': s2.csrf, origin: cp.url };
    assert.equal((await gql(null, `{ me { name } }`, {}, b2)).status, 200);
    await gql(tok.admin, `mutation($id: ID!) { revokeToken(id: $id) { id } }`, { id: ids['other-1'] });
    assert.equal((await gql(null, `{ me { name } }`, {}, b2)).status, 401, 'revoking the token ends its sessions');
  });

  test('`next` never leaves the site and never gives a 500', async () => {
    for (const next of ['/\t/evil.example', '/\n/x', '/\\evil.example', '//evil.example', 'javascript:alert(1)']) {
      const s = await fetch(`${cp.url}/signin`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: cp.url },
        body: new URLSearchParams({ token: tok.viewer, next }).toString(),
      });
      assert.equal(s.status, 303, JSON.stringify(next));
      assert.equal(s.headers.get('location'), '/runs', JSON.stringify(next));
    }
  });

  test('CORS: no Origin is echoed with credentials; a configured origin gets itself, without credentials', async () => {
    const s = await browserSignIn({ token: tok.viewer });
    for (const origin of ['http://evil.example', 'null']) {
      const res = await fetch(`${cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin, cookie: s.cookie, 'x-outpost-csrf': s.csrf },
        body: JSON.stringify({ query: '{ me { name } }' }),
      });
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      assert.equal(res.headers.get('access-control-allow-credentials'), null, origin);
      assert.equal(res.status, 403, 'and the cross-site cookie request is refused (CSRF)');
      const pre = await fetch(`${cp.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
      assert.equal(pre.headers.get('access-control-allow-origin'), null, origin);
    }
    const pre = await fetch(`${cp.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://ops.example');
    assert.equal(pre.headers.get('access-control-allow-credentials'), null);
  });

  test('GraphiQL is behind sign-in and has the UI CSP and framing headers', async () => {
    const anon = await fetch(`${cp.url}/graphql`, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(anon.status, 303);
    assert.match(anon.headers.get('location') ?? '', /^\/signin\?next=/);
    const s = await browserSignIn({ token: tok.viewer });
    const page = await fetch(`${cp.url}/graphql`, { headers: { accept: 'text/html', cookie: s.cookie } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    await page.body?.cancel();
  });

  test('one-time sign-in link: works once', async () => {
    const link = await gql<{ createSignInLink: { code: string; path: string } }>(
      tok.viewer,
      `mutation { createSignInLink { code path } }`,
    );
    assert.match(link.data!.createSignInLink.path, /^\/signin#code=opc_/);
    const code = link.data!.createSignInLink.code;
    assert.equal((await browserSignIn({ code })).status, 303);
    assert.equal((await browserSignIn({ code })).status, 401);
  });
});

test('the bootstrap token of a fresh data dir is ADMIN', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bootstrap-'));
  const cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'outpost.db')}`,
    port: 0,
    daemon: false,
    dataDir: dir,
    logger: createLogger({ name: 'attacks', level: 'silent' }),
  });
  try {
    const file = resolve(dir, 'user.token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const token = readFileSync(file, 'utf8').trim();
    const res = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { role } }' }),
    });
    assert.deepEqual(await res.json(), { data: { me: { role: 'ADMIN' } } });
  } finally {
    await cp.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
