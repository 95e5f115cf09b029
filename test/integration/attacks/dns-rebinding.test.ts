// DNS rebinding against a control plane bound to 127.0.0.1, on a real socket: a hostile page on
// attacker.example, its name re-pointed at 127.0.0.1, sends what a browser sends from that page
// (`Host: attacker.example:<port>`, its own Origin, `Sec-Fetch-Site: same-origin`). Every path is
// refused with HOST_NOT_ALLOWED, the token-free ones (health, readiness, metrics, the sign-in
// page, assets) as much as sign-in and /graphql; the names an operator lists, localhost and IP
// literals are served.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';

interface Raw {
  status: number;
  body: string;
}

/** One request with the headers exactly as given (fetch would not send our Host). */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<Raw> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const code = (r: Raw): string | undefined => {
  try {
    return (JSON.parse(r.body) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
  } catch {
    return undefined;
  }
};

/** What a rebound page can ask: reads that need no token, and the writes a page can send. */
const PROBES: { method: string; path: string; headers?: Record<string, string>; body?: string }[] = [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/signin' },
  { method: 'GET', path: '/ui/app.js' },
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/graphql?query=%7B__typename%7D', headers: { accept: 'application/json' } },
  {
    method: 'POST',
    path: '/signin',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'token=any',
  },
  {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json' },
    body: '{"query":"{__typename}"}',
  },
  { method: 'OPTIONS', path: '/graphql' },
  { method: 'POST', path: '/agent/events', headers: { 'content-type': 'application/x-ndjson' }, body: '{}\n' },
];

describe('attack: DNS rebinding', () => {
  let cp: ControlPlane;
  let listed: ControlPlane;
  let port = '';

  before(async () => {
    const logger = createLogger({ name: 'dns-rebinding', level: 'silent' });
    cp = await startControlPlane({ databaseUrl: 'sqlite::memory:', port: 0, daemon: false, logger });
    port = new URL(cp.url).port;
    listed = await startControlPlane({
      databaseUrl: 'sqlite::memory:',
      port: 0,
      daemon: false,
      logger,
      allowedHosts: ['Outpost.Example.COM'],
    });
  });
  after(async () => {
    await cp?.close();
    await listed?.close();
  });

  test('a page on a rebound name reads and writes nothing, token-free paths included', async () => {
    const evil = `attacker.example:${port}`;
    const browser = { host: evil, origin: `http://${evil}`, 'sec-fetch-site': 'same-origin' };
    for (const p of PROBES) {
      const r = await raw(cp.url, p.method, p.path, { ...browser, ...p.headers }, p.body);
      assert.equal(r.status, 403, `${p.method} ${p.path} answered ${r.status}: ${r.body.slice(0, 120)}`);
      assert.equal(code(r), 'OUTPOST_ERR_HOST_NOT_ALLOWED', `${p.method} ${p.path}`);
    }
    // The answer names the host and what to set, and reflects nothing else.
    const r = await raw(cp.url, 'GET', '/healthz', { host: 'attacker.example' });
    assert.match(r.body, /attacker\.example/);
    assert.match(r.body, /--allowed-hosts/);
    assert.match(r.body, /OUTPOST_ALLOWED_HOSTS/);
  });

  test('names that only look local are refused: a trailing dot, a suffix, a numeric-looking name', async () => {
    for (const host of ['localhost.', 'localhost.attacker.example', '127.0.0.1.nip.io', '0x7f000001.example']) {
      const r = await raw(cp.url, 'GET', '/healthz', { host: `${host}:${port}` });
      assert.equal(r.status, 403, `Host ${host} answered ${r.status}`);
    }
  });

  test('a Host that is no host name is a coded 400, not a bare 500', async () => {
    for (const host of [`:${port}`, 'a b', 'a/b', '[::1', '127.0.0.1/metrics#', '127.0.0.1?x', 'u@127.0.0.1']) {
      const r = await raw(cp.url, 'GET', '/healthz', { host });
      assert.equal(r.status, 400, `Host ${host} answered ${r.status}: ${r.body}`);
      assert.equal(code(r), 'OUTPOST_ERR_BAD_REQUEST', `Host ${host}`);
    }
  });

  test('a Host cannot move the path the router serves away from the request line', async () => {
    // A proxy that forwards only /graphql (and the client's Host) must not be made to serve /metrics.
    const r = await raw(
      cp.url,
      'POST',
      '/graphql',
      { host: '127.0.0.1/metrics#', 'content-type': 'application/json' },
      '{}',
    );
    assert.equal(r.status, 400, r.body);
    assert.doesNotMatch(r.body, /outpost_http_requests_total/);
  });

  test('localhost and IP literals are served, with or without a port', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      '127.0.0.1',
      `localhost:${port}`,
      'LOCALHOST',
      `[::1]:${port}`,
      '10.1.2.3',
    ]) {
      const r = await raw(cp.url, 'GET', '/healthz', { host });
      assert.equal(r.status, 200, `Host ${host} answered ${r.status}: ${r.body}`);
    }
  });

  test('a listed name is served in any case; others stay refused', async () => {
    const lport = new URL(listed.url).port;
    const ok = await raw(listed.url, 'GET', '/healthz', { host: `outpost.example.com:${lport}` });
    assert.equal(ok.status, 200, ok.body);
    const page = await raw(listed.url, 'GET', '/signin', { host: 'OUTPOST.example.com' });
    assert.equal(page.status, 200);
    const other = await raw(listed.url, 'GET', '/healthz', { host: `example.com:${lport}` });
    assert.equal(other.status, 403);
  });
});
