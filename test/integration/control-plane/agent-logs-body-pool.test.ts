// POST /agent/logs bodies read into reused buffers (body-pool.ts) over a real socket: with both
// streams' chunks in flight at once, each window sent last chunk first (so chunks wait, holding
// their buffers, for the bytes before them) and an upload cut off mid-body, every byte is stored
// as sent and once, while the bodies' buffers are reused. A buffer given back before its chunk is
// stored would be filled by a later body and show here as wrong bytes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bodies } from '../../../src/control-plane/http/agent-logs.js';
import { readComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import type { ComputeLogStream } from '../../../src/shared/run-events.js';
import {
  openHarness,
  runOfAgentA,
  serveHarness,
  type Harness,
  type ServedHarness,
} from '../../support/control-plane-harness.js';

const KiB = 1024;
const CHUNK = 512 * KiB;
const CHUNKS = 16;
const WINDOW = 4;
let dir: string;
let h: Harness;
let served: ServedHarness;
let base = '';
let agentA = '';
let runId = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-log-pool-'));
  h = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`, { realClock: true });
  ({ agentA, runId } = await runOfAgentA(h));
  served = await serveHarness(h, 8 * 1024 * KiB);
  base = served.base;
});
after(async () => {
  await served.close();
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

const path = (stream: ComputeLogStream, offset: number) =>
  `/agent/logs?${new URLSearchParams({ agentId: agentA, runId, stream, offset: String(offset) })}`;

/** Bytes no other chunk or stream has at the same place. */
function chunkBytes(stream: ComputeLogStream, n: number): Buffer {
  const b = Buffer.alloc(CHUNK);
  const seed = (stream === 'stdout' ? 11 : 53) + n * 7;
  for (let i = 0; i < b.length; i++) b[i] = 0x21 + ((i * seed + n) % 90);
  return b;
}

function post(
  stream: ComputeLogStream,
  offset: number,
  body: Buffer,
): Promise<{ status: number; storedBytes?: number }> {
  const headers = {
    authorization: `Bearer ${h.agentToken}`,
    'content-type': 'application/octet-stream',
    'content-length': String(body.length),
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path(stream, offset)}`, { method: 'POST', headers }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => {
        const parsed = JSON.parse(Buffer.concat(got).toString()) as { storedBytes?: number };
        resolve({ status: res.statusCode ?? 0, storedBytes: parsed.storedBytes });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    // In pieces: the body arrives in many socket reads, interleaved with the other uploads'.
    for (let at = 0; at < body.length; at += 64 * KiB) req.write(body.subarray(at, at + 64 * KiB));
    req.end();
  });
}

/** Sends half of a chunk's body, then cuts the connection. */
function abortedUpload(stream: ComputeLogStream, offset: number, body: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(`${base}${path(stream, offset)}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${h.agentToken}`,
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(body.subarray(0, body.length / 2), () => setTimeout(() => req.destroy(), 20));
  });
}

async function sendStream(stream: ComputeLogStream): Promise<void> {
  for (let w = 0; w < CHUNKS; w += WINDOW) {
    if (w === WINDOW) await abortedUpload(stream, w * CHUNK, chunkBytes(stream, w));
    const window = [];
    for (let n = w + WINDOW - 1; n >= w; n--) window.push(post(stream, n * CHUNK, chunkBytes(stream, n)));
    for (const a of await Promise.all(window)) assert.equal(a.status, 200);
  }
}

test("both streams' chunks in flight out of order, one upload cut off: every byte stored once, buffers reused", async () => {
  const reusedBefore = bodies.stats().reused;
  await Promise.all([sendStream('stdout'), sendStream('stderr')]);
  for (const stream of ['stdout', 'stderr'] as const) {
    const expected = Buffer.concat(Array.from({ length: CHUNKS }, (_, n) => chunkBytes(stream, n)));
    const stored = await readComputeLogs(h.store, runId, stream, 0, 2 * expected.length);
    assert.equal(stored.nextOffset, expected.length, `${stream}: every byte once`);
    assert.ok(stored.data === expected.toString('latin1'), `${stream}: the stored bytes are the bytes sent`);
  }
  assert.ok(bodies.stats().reused - reusedBefore > CHUNKS, 'the bodies were read into reused buffers');
});
