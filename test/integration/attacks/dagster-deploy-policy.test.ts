// Attack: what an EDITOR can make the agent run through a Dagster location's pointers, over the
// real GraphQL API of a control plane on a socket, configured as `npm start` configures it (the
// module root is the repository, relative paths resolve against it). Each refusal carries its
// code, changes no row and is audited; the allowed shapes are stored.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { STORE_TABLES } from '../../../src/control-plane/store/schema.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';

interface Gql<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string; http?: number } }>;
}

const REPO = resolve('.');
/** A venv interpreter inside the repository: need not exist (the policy resolves loosely). */
const VENV_PYTHON = join(REPO, '.venv-dagster', 'bin', 'python');
const EXAMPLE = join(REPO, 'examples', 'dagster');
const DEPLOY = `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { name version kind } }`;

describeEachDialect('attack: Dagster pointers an EDITOR may deploy', (target) => {
  let cp: ControlPlane;
  const tok: Record<'editor' | 'admin', string> = {} as never;

  before(async () => {
    cp = await startControlPlane({
      databaseUrl: await target.freshUrl(),
      port: 0,
      daemon: false,
      logger: createLogger({ name: 'attacks', level: 'silent' }),
      moduleRoots: [REPO],
    });
    tok.admin = await cp.issueToken('user', 'admin-1', 'ADMIN');
    tok.editor = await cp.issueToken('user', 'editor-1', 'EDITOR');
  });
  after(async () => {
    await cp?.close();
  });

  async function gql<T>(token: string, query: string, variables = {}): Promise<Gql<T>> {
    const res = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as Gql<T>;
  }

  async function fingerprint(): Promise<string> {
    const parts: unknown[] = [];
    for (const t of STORE_TABLES) {
      const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(t)}`.execute(cp.store.db);
      parts.push(rows.rows.map((r) => JSON.stringify({ ...r, last_used_at: undefined, data: undefined })).sort());
    }
    return JSON.stringify(parts);
  }

  /** Refused with `code`, nothing changed, and the refusal is in the audit log. */
  async function refused(token: string, code: string, dagster: Record<string, string>, env?: object) {
    const before = await fingerprint();
    const res = await gql(token, DEPLOY, { i: { name: 'dg', dagster, ...(env ? { env } : {}) } });
    assert.equal(res.errors?.[0]?.extensions?.code, code, `${JSON.stringify(dagster)}: ${JSON.stringify(res)}`);
    assert.equal(await fingerprint(), before, 'a refused deploy changed the database');
    const audit = await gql<{ auditLog: { nodes: Array<{ action: string; outcome: string }> } }>(
      tok.admin,
      `{ auditLog(first: 1) { nodes { action outcome } } }`,
    );
    assert.deepEqual(audit.data?.auditLog.nodes[0], { action: 'deployCodeLocation', outcome: code });
  }

  const file = { pythonFile: 'definitions.py', workingDirectory: EXAMPLE };

  test('an interpreter outside the roots, or looked up on PATH, needs ADMIN', async () => {
    await refused(tok.editor, 'OUTPOST_ERR_PATH_NOT_ALLOWED', { python: '/usr/bin/python3', ...file });
    await refused(tok.editor, 'OUTPOST_ERR_PATH_NOT_ALLOWED', { python: join(REPO, '..', 'python3'), ...file });
    // A bare name passed the check as `<repo>/python3`, while the agent runs PATH's python3.
    await refused(tok.editor, 'OUTPOST_ERR_PATH_NOT_ALLOWED', { python: 'python3', ...file });
    await refused(tok.editor, 'OUTPOST_ERR_PATH_NOT_ALLOWED', { python: 'sh', ...file });
  });

  test('a definitions file or working directory outside the roots is refused', async () => {
    await refused(tok.editor, 'OUTPOST_ERR_PATH_NOT_ALLOWED', { python: VENV_PYTHON, pythonFile: '/etc/passwd' });
    await refused(tok.editor, 'OUTPOST_ERR_PATH_NOT_ALLOWED', {
      python: VENV_PYTHON,
      pythonFile: '../../../../etc/passwd',
      workingDirectory: EXAMPLE,
    });
    // moduleName / packageName import from the working directory.
    await refused(tok.editor, 'OUTPOST_ERR_PATH_NOT_ALLOWED', {
      python: VENV_PYTHON,
      moduleName: 'evil',
      workingDirectory: '/tmp',
    });
  });

  test('env that changes what Python loads needs ADMIN; DAGSTER_HOME is Outpost’s, for every role', async () => {
    const ok = { python: VENV_PYTHON, ...file };
    await refused(tok.editor, 'OUTPOST_ERR_ROLE_REQUIRED', ok, { PYTHONPATH: '/tmp/evil' });
    await refused(tok.editor, 'OUTPOST_ERR_ROLE_REQUIRED', ok, { PYTHONSTARTUP: '/tmp/evil.py' });
    // Each run's DAGSTER_HOME holds Outpost's capture instance: a location cannot choose it.
    await refused(tok.editor, 'OUTPOST_ERR_INVALID_ARGUMENT', ok, { DAGSTER_HOME: '/tmp/home' });
    await refused(tok.admin, 'OUTPOST_ERR_INVALID_ARGUMENT', ok, { DAGSTER_HOME: '/tmp/home' });
  });

  test('a name or pointer with shell or YAML metacharacters: the name is refused, pointers stay data', async () => {
    for (const name of ['a;b', '$(id)', '../x', 'a b', 'x\ny: 1']) {
      const res = await gql(tok.editor, DEPLOY, { i: { name, dagster: { python: VENV_PYTHON, ...file } } });
      assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_INVALID_ARGUMENT', name);
    }
  });

  test('under the roots an EDITOR deploys; a system interpreter is the ADMIN’s', async () => {
    const ed = await gql<{ deployCodeLocation: { kind: string } }>(tok.editor, DEPLOY, {
      i: { name: 'dg-editor', dagster: { python: VENV_PYTHON, ...file } },
    });
    assert.equal(ed.errors, undefined, JSON.stringify(ed.errors));
    assert.equal(ed.data?.deployCodeLocation.kind, 'DAGSTER');
    const ad = await gql<{ deployCodeLocation: { kind: string } }>(tok.admin, DEPLOY, {
      i: { name: 'dg-admin', dagster: { python: 'python3', ...file } },
    });
    assert.equal(ad.errors, undefined, JSON.stringify(ad.errors));
    // An EDITOR may not reload what it could not have deployed.
    const before = await fingerprint();
    const reload = await gql(tok.editor, `mutation { reloadCodeLocation(name: "dg-admin") { name } }`);
    assert.equal(reload.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_PATH_NOT_ALLOWED', JSON.stringify(reload));
    assert.equal(await fingerprint(), before);
  });
});
