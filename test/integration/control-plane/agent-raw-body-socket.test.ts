// The raw-body endpoints (POST /agent/logs, /agent/events) over a real socket (node-server.ts),
// where their bodies are read off node:http directly (raw-body.ts) rather than through a web
// stream: a multi-MiB chunk and an NDJSON batch are stored byte for byte; a body over the
// endpoint's limit is refused naming it, declared (content-length) or chunked without a length,
// nothing stored, and the connection still answers; an unauthenticated body is refused unread;
// a body over the server's own maxBodyBytes gets the server's refusal.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { readComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import {
  openHarness,
  runOfAgentA,
  serveHarness,
  type Harness,
  type ServedHarness,
} from '../../support/control-plane-harness.js';

const MiB = 1024 * 1024;
const CHUNK_LIMIT = 3 * MiB;
const SERVER_LIMIT = 4 * MiB;
let dir: string;
let h: Harness;
let served: ServedHarness;
let base = '';
let agentA = '';
let runId = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-raw-socket-'));
  h = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`, {
    // The API's maxBodyBytes above the server's: the server's own refusal is reachable too.
    limits: { maxLogChunkBytes: CHUNK_LIMIT, maxBodyBytes: 8 * MiB },
    realClock: true,
  });
  ({ agentA, runId } = await runOfAgentA(h));
  served = await serveHarness(h, SERVER_LIMIT);
  base = served.base;
});
after(async () => {
  await served.close();
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: {
    storedBytes?: number;
    highestContiguousSeq?: number;
    errors?: { extensions: { code: string; hint: string; data?: Record<string, unknown> } }[];
  };
}

/** POSTs `parts` (written one by one; without `length` the body goes chunked). */
function post(
  path: string,
  parts: Buffer[],
  opts: { type: string; token?: string | null; length?: boolean },
): Promise<Answer> {
  const token = opts.token === undefined ? h.agentToken : opts.token;
  const headers: Record<string, string> = { 'content-type': opts.type };
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.length !== false) headers['content-length'] = String(parts.reduce((n, p) => n + p.length, 0));
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(got).toString()) as Answer['body'] }),
      );
      res.on('error', reject);
    });
    // A refused body may be cut: the answer still arrives first.
    req.on('error', () => undefined);
    for (const p of parts) req.write(p);
    req.end();
  });
}

const logsPath = (offset: number) =>
  `/agent/logs?${new URLSearchParams({ agentId: agentA, runId, stream: 'stdout', offset: String(offset) })}`;
const codeOf = (a: Answer) => a.body.errors?.[0]?.extensions.code;
const storedStdout = async () => (await readComputeLogs(h.store, runId, 'stdout', 0, 64 * MiB)).data;

test('a 2 MiB log chunk and an NDJSON batch off the socket are stored byte for byte', async () => {
  const bytes = Buffer.alloc(2 * MiB);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 0x20 + ((i * 7) % 90);
  // Written in pieces: the body arrives in many socket reads.
  const pieces = Array.from({ length: 32 }, (_, i) => bytes.subarray(i * 65_536, (i + 1) * 65_536));
  const a = await post(logsPath(0), pieces, { type: 'application/octet-stream' });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.equal(a.body.storedBytes, bytes.length);
  assert.equal(await storedStdout(), bytes.toString('latin1'));
  const chunked = await post(logsPath(bytes.length), [Buffer.from('tail '), Buffer.from('bytes\n')], {
    type: 'application/octet-stream',
    length: false,
  });
  assert.equal(chunked.body.storedBytes, bytes.length + 11);

  const lines = Array.from({ length: 3_000 }, (_, i) =>
    JSON.stringify({ seq: i + 1, timestamp: 1_700_000_000_000 + i, type: 'LOG', level: 'info', message: `m${i}` }),
  );
  const ev = await post(
    `/agent/events?${new URLSearchParams({ agentId: agentA, runId })}`,
    [Buffer.from(lines.slice(0, 1500).join('\n') + '\n'), Buffer.from(lines.slice(1500).join('\n'))],
    { type: 'application/x-ndjson' },
  );
  assert.equal(ev.status, 200, JSON.stringify(ev.body));
  assert.equal(ev.body.highestContiguousSeq, 3_000);
  const stored = await listRunEvents(h.store, runId, 0, 10_000);
  const logs = stored.filter((e) => e.type === 'LOG');
  assert.equal(logs.length, 3_000);
  assert.equal(logs[2_999]!.message, 'm2999');
});

test("a body over the endpoint's limit is refused naming it, declared or chunked; nothing stored", async () => {
  const before = await storedStdout();
  const logs = { type: 'application/octet-stream' };
  const over = Buffer.alloc(CHUNK_LIMIT + 1, 'z');
  const limitOf = (a: Answer) => a.body.errors?.[0]?.extensions.data?.limit;
  // Declared over maxLogChunkBytes: refused before a byte is read.
  const declared = await post(logsPath(before.length), [over], logs);
  assert.equal(codeOf(declared), 'OUTPOST_ERR_BATCH_TOO_LARGE', JSON.stringify(declared.body));
  assert.equal(limitOf(declared), 'maxLogChunkBytes');
  // Chunked, no length: cut while reading, the same refusal.
  const pieces = [over.subarray(0, MiB), over.subarray(MiB, 2 * MiB), over.subarray(2 * MiB)];
  const chunked = await post(logsPath(before.length), pieces, { ...logs, length: false });
  assert.equal(codeOf(chunked), 'OUTPOST_ERR_BATCH_TOO_LARGE', JSON.stringify(chunked.body));
  assert.equal(limitOf(chunked), 'maxLogChunkBytes');
  assert.ok(chunked.body.errors![0]!.extensions.hint);
  // /agent/events allows the API's maxBodyBytes (8 MiB): past the server's 4 MiB, the server's refusal.
  const events = await post(
    `/agent/events?${new URLSearchParams({ agentId: agentA, runId })}`,
    Array.from({ length: 5 }, () => Buffer.alloc(MiB, 0x20)),
    { type: 'application/x-ndjson', length: false },
  );
  assert.equal(codeOf(events), 'OUTPOST_ERR_BODY_TOO_LARGE', JSON.stringify(events.body));
  assert.equal(events.status, 413);
  assert.equal(events.body.errors![0]!.extensions.data?.value, SERVER_LIMIT);
  assert.equal(await storedStdout(), before);
  // The server still answers.
  const ok = await post(logsPath(before.length), [Buffer.from('after\n')], logs);
  assert.equal(ok.body.storedBytes, before.length + 6);
});

test('no token: 401 before the body is read, in the one error shape', async () => {
  const before = await storedStdout();
  const a = await post(logsPath(before.length), [Buffer.alloc(MiB, 'x')], {
    type: 'application/octet-stream',
    token: null,
  });
  assert.equal(a.status, 401);
  assert.equal(codeOf(a), 'OUTPOST_ERR_UNAUTHENTICATED');
  assert.equal(await storedStdout(), before);
});
