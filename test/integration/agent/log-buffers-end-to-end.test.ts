// Reused log-chunk buffers on both sides (shared/body-pool.ts), end to end, once per dialect: two
// control planes in one process (one body pool between them), each shipped to by a real agent
// client from its own run's spool (one agent pool between them), both streams at once, while a
// third party posts junk over the already-stored start of a stream, uploads cut off mid-body and
// a chunk refused for a gap after its body was read. Binary (non-UTF-8) bytes, read back raw: a
// buffer given back while a store call, a socket or a waiting chunk still used it, or handed to
// two holders, would show as bytes that differ from the spool's.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { logChunkBuffers } from '../../../src/agent/log-send-budget.js';
import { SpoolShipper } from '../../../src/agent/spool-shipper.js';
import { bodies } from '../../../src/control-plane/http/agent-logs.js';
import { createNodeServer } from '../../../src/control-plane/http/node-server.js';
import type { ComputeLogStream } from '../../../src/shared/run-events.js';
import { createLogger } from '../../../src/shared/logger.js';
import { openHarness, runOfAgentA, type Harness } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';
import { storedChunks } from '../../support/stored-logs.js';

/** Odd, so chunks fall mid-byte-pattern; above the pool's smallest pooled size (256 KiB). */
const MAX_BODY = 1024 * 1024 + 17;
const STREAM_BYTES = 3 * MAX_BODY + 4321;
const logger = createLogger({ name: 'test', level: 'silent' });

interface Side {
  h: Harness;
  server: Server;
  base: string;
  agentId: string;
  runId: string;
  spool: Record<ComputeLogStream, Buffer>;
  spoolDir: string;
}

const stored = async (s: Side, stream: ComputeLogStream): Promise<Buffer> =>
  Buffer.concat((await storedChunks(s.h.store, s.runId, stream)).map((c) => Buffer.from(c.data)));

/** A raw POST /agent/logs; `cutAfter` sends that many bytes of the body, then cuts the connection. */
function post(s: Side, stream: ComputeLogStream, offset: number, body: Buffer, cutAfter?: number): Promise<number> {
  const q = new URLSearchParams({ agentId: s.agentId, runId: s.runId, stream, offset: String(offset) });
  return new Promise((resolve) => {
    const req = httpRequest(`${s.base}/agent/logs?${q}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${s.h.agentToken}`,
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    if (cutAfter === undefined) req.end(body);
    else req.write(body.subarray(0, cutAfter), () => setTimeout(() => req.destroy(), 10));
  });
}

describeEachDialect('reused log-chunk buffers end to end', (target) => {
  const sides: Side[] = [];
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-log-buffers-e2e-'));
    for (let i = 0; i < 2; i++) {
      const h = await openHarness(await target.freshUrl(), { realClock: true, limits: { maxBodyBytes: MAX_BODY } });
      const { agentA, runId } = await runOfAgentA(h);
      const server = createNodeServer({ handler: h.handler, maxBodyBytes: MAX_BODY, logger });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const spool = { stdout: randomBytes(STREAM_BYTES), stderr: randomBytes(STREAM_BYTES) };
      const spoolDir = mkdtempSync(join(dir, 'spool-'));
      writeFileSync(join(spoolDir, 'stdout.log'), spool.stdout);
      writeFileSync(join(spoolDir, 'stderr.log'), spool.stderr);
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      sides.push({ h, server, base, agentId: agentA, runId, spool, spoolDir });
    }
  });
  after(async () => {
    for (const s of sides) {
      s.server.closeAllConnections();
      await new Promise((r) => s.server.close(r));
      await s.h.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('two runs on two control planes, both streams, junk resends and cut uploads: stored bytes are the spools', async () => {
    const reused = { agent: logChunkBuffers.stats().reused, cp: bodies.stats().reused };
    let shipping = true;
    const ship = async (s: Side): Promise<void> => {
      const client = createControlPlaneClient({ url: s.base, token: s.h.agentToken });
      const cursor = { runId: s.runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTED' as const };
      const shipper = new SpoolShipper(s.runId, s.agentId, s.spoolDir, client, logger, cursor);
      for (let i = 0; i < 100 && (await shipper.shipOnce(true)); i++);
    };
    /** Junk over each stream's stored start, cut uploads, and a chunk that waits for a gap in vain. */
    const attack = async (s: Side): Promise<void> => {
      const junk = randomBytes(MAX_BODY - 17);
      const gap = post(s, 'stderr', 100 * MAX_BODY, randomBytes(MAX_BODY - 17));
      while (shipping) {
        for (const stream of ['stdout', 'stderr'] as const) {
          if ((await stored(s, stream)).length < junk.length) continue;
          assert.equal(await post(s, stream, 0, junk), 200, 'a resend of stored bytes is answered 200');
          await post(s, stream, MAX_BODY, junk, junk.length / 2);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(await gap, 400, 'the chunk after a gap that never fills is refused, after its body was read');
    };
    const attacks = sides.map(attack);
    await Promise.all(sides.map(ship));
    shipping = false;
    await Promise.all(attacks);
    for (const [i, s] of sides.entries()) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const got = await stored(s, stream);
        assert.equal(got.length, STREAM_BYTES, `run ${i} ${stream}: every byte once`);
        assert.ok(got.equals(s.spool[stream]), `run ${i} ${stream}: the stored bytes are the spool's`);
      }
    }
    assert.ok(logChunkBuffers.stats().reused > reused.agent, 'the agent read chunks into reused buffers');
    assert.ok(bodies.stats().reused > reused.cp, 'the control plane read bodies into reused buffers');
  });
});
