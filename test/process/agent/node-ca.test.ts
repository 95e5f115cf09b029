// The agent's certificate store (src/agent/launchers/node-ca.ts): run workers started with it
// instead of NODE_EXTRA_CA_CERTS trust exactly what they trusted before, and user code sees the
// environment and execArgv the user set. Real parts: the ProcessLauncher spawning real run
// workers (cold and warm standby, unsandboxed and under bubblewrap), a real HTTPS server on
// 127.0.0.1 with a CA made here, OpenSSL's own lookup of every certificate of the store.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { nodeCaStore, withNodeCa, type NodeCaStore } from '../../../src/agent/launchers/node-ca.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { bubblewrapIsolation, bubblewrapUsable, type Isolation } from '../../../src/agent/launchers/sandbox.js';
import { defaultCliCommand } from '../../../src/shared/cli-command.js';
import { createLogger } from '../../../src/shared/logger.js';
import { until } from '../../support/wait.js';

const MODULE = resolve('test/fixtures/user-code/tls-probe/definitions.ts');
const home = mkdtempSync(join(tmpdir(), 'outpost-node-ca-'));
const pemOf = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
const derOf = (pem: string): string => pem.replace(/-----[^-]+-----|\s/g, '');
const blocks = (text: string): string[] =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/** A CA and a 127.0.0.1 certificate it signed, made with the openssl CLI. */
function makeCa(dir: string): { ca: string; key: string; cert: string } {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=Outpost Test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  ssl('req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', 'leaf.key', '-out', 'leaf.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'leaf.pem',
  );
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), key: read('leaf.key'), cert: read('leaf.pem') };
}

interface Probe {
  fetch: string;
  child: string;
  env: Record<string, string | null>;
  execArgv: string[];
  cmdline: boolean;
}

describe('run workers started with the agent’s certificate store', () => {
  let server: Server;
  let url: string;
  /** The host's bundle (or part of Node's) plus the test CA; and the same without it. */
  let withCa: string;
  let withoutCa: string;
  let n = 0;

  before(async () => {
    const made = makeCa(home);
    const base = process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS);
    const bundle = base
      ? readFileSync(process.env.NODE_EXTRA_CA_CERTS!, 'utf8')
      : rootCertificates.slice(0, 20).join('\n');
    withoutCa = join(home, 'without-ca.pem');
    withCa = join(home, 'with-ca.pem');
    writeFileSync(withoutCa, bundle);
    writeFileSync(withCa, `${bundle}\n${made.ca}`);
    server = createServer({ key: made.key, cert: made.cert }, (_req, res) => res.end('hi'));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** One `probe` run launched as the agent does (cold, or on a warm standby), its report. */
  async function probe(o: {
    extraCerts: string;
    store: boolean;
    warm?: boolean;
    isolation?: Isolation;
  }): Promise<Probe> {
    const dataDir = join(home, `data-${++n}`);
    mkdirSync(dataDir);
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: o.extraCerts, SSL_CERT_DIR: '/user/set/dir' };
    delete env.SSL_CERT_FILE;
    const nodeCa = o.store ? nodeCaStore(dataDir, env) : undefined;
    if (o.store) assert.ok(nodeCa, 'the store applies to this file');
    const out = join(home, `probe-${n}.json`);
    const launcher = new ProcessLauncher({
      dataDir,
      logger: createLogger({ name: 'agent', level: 'silent' }),
      env,
      warmWorkers: o.warm ? 1 : 0,
      ...(nodeCa ? { nodeCa } : {}),
      ...(o.isolation ? { isolation: o.isolation } : {}),
    });
    try {
      const spec = { location: 'tls', module: MODULE, cwd: home, env: { PROBE_URL: url, PROBE_OUT: out } };
      if (o.warm) {
        launcher.prewarm(spec);
        await until('a ready standby', () => launcher.standbys.counts().ready > 0, 60_000, 50);
      }
      await launcher.launch({ ...spec, runId: `run_tls_${n}`, job: 'probe', runConfig: {} });
      return await until('the probe report', () => existsSync(out) && (JSON.parse(readFileSync(out, 'utf8')) as Probe));
    } finally {
      launcher.stop();
    }
  }

  const userEnv = (extraCerts: string): Record<string, string | null> => ({
    NODE_EXTRA_CA_CERTS: extraCerts,
    SSL_CERT_FILE: null,
    SSL_CERT_DIR: '/user/set/dir',
    OUTPOST_NODE_CA: null,
  });

  test('a server whose CA is in the file: trusted by the run and by a Node process it starts, as with the plain start', async () => {
    const plain = await probe({ extraCerts: withCa, store: false });
    const cold = await probe({ extraCerts: withCa, store: true });
    const warm = await probe({ extraCerts: withCa, store: true, warm: true });
    for (const [name, p] of Object.entries({ plain, cold, warm })) {
      assert.equal(p.fetch, 'ok 200', `${name}: the run's own request`);
      assert.equal(p.child, 'ok 200', `${name}: a Node process the run started`);
      assert.deepEqual(p.env, userEnv(withCa), `${name}: the environment as the user set it`);
      assert.ok(!p.execArgv.includes('--use-openssl-ca'), `${name}: execArgv as Node was started by the user`);
    }
    assert.equal(plain.cmdline, false);
    assert.equal(cold.cmdline, true, 'the cold worker was started with the store');
    assert.equal(warm.cmdline, true, 'the standby was started with the store');
  });

  test('a server whose CA is not in the file: refused alike', async () => {
    const plain = await probe({ extraCerts: withoutCa, store: false });
    const store = await probe({ extraCerts: withoutCa, store: true });
    assert.match(plain.fetch, /^[A-Z_]+$/, `refused: ${plain.fetch}`);
    assert.equal(store.fetch, plain.fetch);
    assert.equal(store.child, plain.child);
    assert.equal(store.cmdline, true);
  });

  const usable = bubblewrapUsable();
  test(
    'under bubblewrap (the data dir hidden): the store is shown to the worker',
    { skip: !usable.ok && usable.why },
    async () => {
      const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [join(home, `data-${n + 1}`)] });
      const p = await probe({ extraCerts: withCa, store: true, isolation });
      assert.equal(p.fetch, 'ok 200');
      assert.equal(p.child, 'ok 200');
      assert.equal(p.cmdline, true);
    },
  );

  test('the store holds exactly Node’s roots and the file’s certificates, each where OpenSSL looks it up', (t) => {
    const store = nodeCaStore(join(home, 'data-store'), { NODE_EXTRA_CA_CERTS: withCa })!;
    const hashed = readdirSync(store.dir).filter((f) => /^[0-9a-f]{8}\.\d+$/.test(f));
    const loaded = blocks(readFileSync(store.file, 'utf8'));
    const files = [...hashed.map((f) => readFileSync(join(store.dir, f), 'utf8')), ...loaded];
    const held = new Set(files.map(derOf));
    const expected = new Set([...rootCertificates, ...blocks(readFileSync(withCa, 'utf8'))].map(derOf));
    assert.equal(files.length, held.size, 'no certificate filed twice');
    assert.deepEqual([...held].sort(), [...expected].sort());
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      t.skip('no openssl CLI');
      return;
    }
    // Each self-signed root checked as OpenSSL checks a chain's anchor: against all of them in
    // memory (Node's own store, NODE_EXTRA_CA_CERTS) and against the store as --use-openssl-ca
    // sets it up (the file loaded, the directory looked up by hash). The same verdict for each.
    const all = join(home, 'each');
    mkdirSync(all, { recursive: true });
    const roots = [...expected]
      .map((d, i) => {
        const f = join(all, `${i}.pem`);
        writeFileSync(f, pemOf(Buffer.from(d, 'base64')));
        return f;
      })
      .filter((f) => {
        const c = new X509Certificate(readFileSync(f));
        return c.checkIssued(c);
      });
    const inMemory = join(home, 'in-memory.pem');
    writeFileSync(inMemory, [...expected].map((d) => pemOf(Buffer.from(d, 'base64'))).join(''));
    const verdicts = (...where: string[]): string[] => {
      const r = spawnSync('openssl', ['verify', '-no-CAstore', ...where, '-no_check_time', ...roots], {
        encoding: 'utf8',
      });
      const ok = new Set(
        r.stdout
          .split('\n')
          .filter((l) => l.endsWith(': OK'))
          .map((l) => l.slice(0, -4)),
      );
      return roots.map((f) => (ok.has(f) ? 'ok' : 'refused'));
    };
    const before = verdicts('-no-CApath', '-CAfile', inMemory);
    assert.ok(roots.length > 100 && before.filter((v) => v === 'ok').length > 100, `${roots.length} roots`);
    assert.deepEqual(verdicts('-CAfile', store.file, '-CApath', store.dir), before);
  });

  test('what it cannot reproduce exactly, it leaves as it is', () => {
    const bad = join(home, 'bad.pem');
    writeFileSync(bad, `${readFileSync(withCa, 'utf8')}\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n`);
    assert.equal(nodeCaStore(join(home, 'data-bad'), { NODE_EXTRA_CA_CERTS: bad }), undefined, 'not only certificates');
    assert.equal(nodeCaStore(join(home, 'data-none'), {}), undefined, 'no variable');
    const store = nodeCaStore(join(home, 'data-x'), { NODE_EXTRA_CA_CERTS: withCa }) as NodeCaStore;
    const cli = defaultCliCommand();
    const cmd = [...cli, 'api', 'execute-run'];
    const env = { NODE_EXTRA_CA_CERTS: withCa };
    assert.equal(withNodeCa(store, cli, cmd, env).applied, true);
    assert.equal(withNodeCa(store, cli, cmd, { ...env, NODE_OPTIONS: '--use-bundled-ca' }).applied, false);
    assert.equal(withNodeCa(store, cli, cmd, { NODE_EXTRA_CA_CERTS: withoutCa }).applied, false, 'another file');
    assert.equal(withNodeCa(store, cli, ['python3', '-c', 'pass'], env).applied, false, 'not Outpost’s entry');
    assert.equal(withNodeCa(undefined, cli, cmd, env).applied, false);
    for (const preload of ['--require ./x.cjs', '-r ./x.cjs', '--import ./x.mjs', '--loader ./l.mjs']) {
      assert.equal(withNodeCa(store, cli, cmd, { ...env, NODE_OPTIONS: preload }).applied, false, preload);
    }
    assert.equal(nodeCaStore(join(home, 'data:colon'), env), undefined, "SSL_CERT_DIR is ':'-separated");
  });

  test('the file changed since the agent read it (update-ca-certificates): the plain start, which reads it anew', () => {
    const file = join(home, 'changing.pem');
    writeFileSync(file, readFileSync(withCa, 'utf8'));
    const store = nodeCaStore(join(home, 'data-changing'), { NODE_EXTRA_CA_CERTS: file }) as NodeCaStore;
    const cli = defaultCliCommand();
    const cmd = [...cli, 'api', 'execute-run'];
    assert.equal(withNodeCa(store, cli, cmd, { NODE_EXTRA_CA_CERTS: file }).applied, true);
    writeFileSync(file, readFileSync(withoutCa, 'utf8'));
    assert.equal(withNodeCa(store, cli, cmd, { NODE_EXTRA_CA_CERTS: file }).applied, false);
  });

  test('a later start keeps an earlier start’s store: workers from before a restart still read it', () => {
    const dataDir = join(home, 'data-restart');
    const first = nodeCaStore(dataDir, { NODE_EXTRA_CA_CERTS: withCa }) as NodeCaStore;
    // Another file (a new bundle, a Node upgrade): a new store beside the first, which stays whole.
    const second = nodeCaStore(dataDir, { NODE_EXTRA_CA_CERTS: withoutCa }) as NodeCaStore;
    assert.notEqual(first.dir, second.dir);
    assert.ok(existsSync(first.file) && readdirSync(first.dir).length > 100, 'the first store is whole');
  });
});
