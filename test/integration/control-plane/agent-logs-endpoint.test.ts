// POST /agent/logs (raw compute-log bytes) through the fetch handler, on SQLite and PostgreSQL:
// the holder's chunks are stored once (resends and overlaps included); a chunk sent ahead of its
// predecessor waits for it; every refusal (no token, a user token, another token's agent, an
// agent that does not hold the run, an over-limit body naming its limit, a bad parameter or
// content type) takes the one error shape and changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendWhenContiguous, chunkOrderOf } from '../../../src/control-plane/http/agent-logs.js';
import { readComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import type { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { postAgentRaw, uploadFixture, type RawAnswer } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

const CHUNK_LIMIT = 64;

type Answer = RawAnswer<{ storedBytes?: number; truncated?: boolean }>;

/** Counts the store's transactions until restored (a refused chunk costs one). */
function countTransactions(store: Store): { readonly n: number; restore(): void } {
  const real = store.transaction.bind(store);
  const counted = { n: 0, restore: () => void (store.transaction = real) };
  store.transaction = (fn) => {
    counted.n++;
    return real(fn);
  };
  return counted;
}

describeEachDialect('POST /agent/logs', (target) => {
  const u = uploadFixture(() => target.freshUrl(), { limits: { maxLogChunkBytes: CHUNK_LIMIT } });
  const post = (
    params: Record<string, string>,
    body: string | Buffer,
    headers: Record<string, string> = {},
    token: string | null = u.h.agentToken,
  ): Promise<Answer> => postAgentRaw(u.h, '/agent/logs', 'application/octet-stream', params, body, headers, token);
  const chunk = (offset: number, text: string, agentId = u.agentA, stream = 'stdout') =>
    post({ agentId, runId: u.runId, stream, offset: String(offset) }, text);
  const stored = async (stream: 'stdout' | 'stderr' = 'stdout') =>
    (await readComputeLogs(u.h.store, u.runId, stream, 0)).data;
  const codeOf = (a: Answer) => a.body.errors?.[0]?.extensions.code;

  /** Asserts the refusal's code and hint, and that no log byte and no run counter moved. */
  async function refused(a: Promise<Answer>, code: string, status: number): Promise<Answer> {
    const before = [await stored('stdout'), await stored('stderr')];
    const answer = await a;
    assert.equal(codeOf(answer), `OUTPOST_ERR_${code}`, JSON.stringify(answer));
    assert.equal(answer.status, status);
    assert.ok(answer.body.errors?.[0]?.extensions.hint, 'the refusal carries a hint');
    assert.deepEqual([await stored('stdout'), await stored('stderr')], before);
    return answer;
  }

  test("the holder's chunks are stored once: a resent or overlapping chunk adds only new bytes", async () => {
    assert.deepEqual((await chunk(0, 'hello ')).body, { storedBytes: 6, truncated: false });
    assert.deepEqual((await chunk(0, 'hello ')).body, { storedBytes: 6, truncated: false });
    assert.deepEqual((await chunk(0, 'hello from ')).body, { storedBytes: 11, truncated: false });
    assert.deepEqual((await chunk(6, 'from outpost\n')).body, { storedBytes: 19, truncated: false });
    assert.equal(await stored(), 'hello from outpost\n');
    assert.deepEqual((await chunk(0, 'oops\n', u.agentA, 'stderr')).body, { storedBytes: 5, truncated: false });
    assert.equal(await stored('stderr'), 'oops\n');
  });

  test('a chunk sent ahead of its predecessor waits for it; both land in order', async () => {
    const base = (await readComputeLogs(u.h.store, u.runId, 'stdout', 0)).nextOffset;
    const second = chunk(base + 4, 'EFGH');
    await new Promise((r) => setTimeout(r, 50));
    const first = await chunk(base, 'ABCD');
    assert.equal(first.body.storedBytes, base + 4);
    assert.deepEqual((await second).body, { storedBytes: base + 8, truncated: false });
    assert.ok((await stored()).endsWith('ABCDEFGH'));
  });

  test("a chunk whose body arrives before its predecessor's waits for it without a refused transaction", async () => {
    // The agent's window: chunk n's request arrives first, but chunk n+1's body is read first.
    const base = (await readComputeLogs(u.h.store, u.runId, 'stdout', 0)).nextOffset;
    const store = u.h.store;
    const counted = countTransactions(store);
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const slowBody = new ReadableStream<Uint8Array>({
        async pull(c) {
          await held;
          c.enqueue(Buffer.from('ABCD'));
          c.close();
        },
      });
      const params = { agentId: u.agentA, runId: u.runId, stream: 'stdout' };
      const first = u.h.handler(
        new Request(`http://127.0.0.1/agent/logs?${new URLSearchParams({ ...params, offset: String(base) })}`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${u.h.agentToken}` },
          body: slowBody,
          duplex: 'half',
        } as RequestInit),
      );
      // Let the first request pass its checks and start waiting for its body.
      await new Promise((r) => setTimeout(r, 50));
      const second = chunk(base + 4, 'EFGH');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(counted.n, 0, 'the later chunk did not try its transaction while its predecessor was read');
      release();
      assert.equal(((await (await first).json()) as Answer['body']).storedBytes, base + 4);
      assert.deepEqual((await second).body, { storedBytes: base + 8, truncated: false });
      assert.equal(counted.n, 2, 'one transaction per chunk: none refused for the gap');
      assert.ok((await stored()).endsWith('ABCDEFGH'));
      assert.equal(chunkOrderOf(store).size, 0, 'no chunk is left in the order');
    } finally {
      counted.restore();
    }
  });

  test('a chunk waiting for a gap retries its transaction only once the gap is filled, not on other writes of the run', async () => {
    const base = (await readComputeLogs(u.h.store, u.runId, 'stdout', 0)).nextOffset;
    const stderrBase = (await readComputeLogs(u.h.store, u.runId, 'stderr', 0)).nextOffset;
    const store = u.h.store;
    const counted = countTransactions(store);
    try {
      const ahead = chunk(base + 4, 'MNOP');
      await new Promise((r) => setTimeout(r, 50));
      // Other writes to the run wake its waiters: stderr chunks.
      for (let i = 0; i < 5; i++) await chunk(stderrBase + i, 'e', u.agentA, 'stderr');
      await new Promise((r) => setTimeout(r, 20));
      const before = counted.n;
      assert.ok(before <= 6, `the waiting chunk tried its transaction ${before - 5} times before its gap filled`);
      assert.equal((await chunk(base, 'IJKL')).body.storedBytes, base + 4);
      assert.deepEqual((await ahead).body, { storedBytes: base + 8, truncated: false });
      assert.equal(counted.n, before + 2);
      assert.ok((await stored()).endsWith('IJKLMNOP'));
    } finally {
      counted.restore();
    }
  });

  test('a gap that does not fill is refused with the stored offset', async () => {
    const base = (await readComputeLogs(u.h.store, u.runId, 'stdout', 0)).nextOffset;
    await assert.rejects(
      appendWhenContiguous(u.h.store, { runId: u.runId, stream: 'stdout', offset: base + 100 }, Buffer.from('x'), 100),
      (e: unknown) => isOutpostError(e, 'INVALID_ARGUMENT') && e.data?.storedBytes === base,
    );
  });

  test("another token's agent, or an agent without the run, is refused and writes nothing", async () => {
    // B's id with A's token: B is not bound to this token.
    await refused(chunk(0, 'forged\n', u.agentB), 'FORBIDDEN', 403);
    // B's own token and id: B does not hold the run.
    await refused(
      post({ agentId: u.agentB, runId: u.runId, stream: 'stdout', offset: '19' }, 'forged\n', {}, u.tokenB),
      'RUN_NOT_OWNED',
      409,
    );
    await refused(
      post({ agentId: u.agentB, runId: u.runId, stream: 'stderr', offset: '0' }, 'forged\n', {}, u.tokenB),
      'RUN_NOT_OWNED',
      409,
    );
  });

  test('no token, a user token, a revoked-like unknown token: 401 / 403 before the body is read', async () => {
    const params = { agentId: u.agentA, runId: u.runId, stream: 'stdout', offset: '0' };
    await refused(post(params, 'x', {}, null), 'UNAUTHENTICATED', 401);
    await refused(post(params, 'x', {}, u.h.userToken), 'FORBIDDEN', 403);
    await refused(post(params, 'x', {}, 'opa_not_a_token'), 'UNAUTHENTICATED', 401);
  });

  test('a body over maxLogChunkBytes is refused naming the limit, declared or streamed', async () => {
    const params = { agentId: u.agentA, runId: u.runId, stream: 'stdout', offset: '0' };
    const big = Buffer.alloc(CHUNK_LIMIT + 1, 'z');
    const declared = await refused(post(params, big), 'BATCH_TOO_LARGE', 400);
    assert.match(declared.body.errors![0]!.message, /maxLogChunkBytes is 64/);
    assert.equal(declared.body.errors![0]!.extensions.data?.limit, 'maxLogChunkBytes');
    // No content-length: a stream of unknown length is cut at the limit.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(40));
        c.enqueue(new Uint8Array(40));
        c.close();
      },
    });
    const res = await u.h.handler(
      new Request(`http://127.0.0.1/agent/logs?${new URLSearchParams(params)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${u.h.agentToken}` },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    );
    const body = (await res.json()) as Answer['body'];
    assert.equal(body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_BATCH_TOO_LARGE');
    assert.match(body.errors?.[0]?.message ?? '', /maxLogChunkBytes is 64/);
  });

  test('bad parameters, content type or method are refused in the one error shape', async () => {
    const ok = { agentId: u.agentA, runId: u.runId, stream: 'stdout', offset: '0' };
    await refused(post({ ...ok, stream: 'stdin' }, 'x'), 'INVALID_ARGUMENT', 400);
    await refused(post({ ...ok, offset: '-1' }, 'x'), 'INVALID_ARGUMENT', 400);
    await refused(post({ ...ok, offset: '1e3' }, 'x'), 'INVALID_ARGUMENT', 400);
    const { runId: _omit, ...noRun } = ok;
    void _omit;
    await refused(post(noRun, 'x'), 'INVALID_ARGUMENT', 400);
    await refused(post(ok, 'x', { 'content-type': 'application/json' }), 'UNSUPPORTED_MEDIA_TYPE', 415);
    const get = await u.h.handler(
      new Request(`http://127.0.0.1/agent/logs?${new URLSearchParams(ok)}`, {
        headers: { authorization: `Bearer ${u.h.agentToken}` },
      }),
    );
    assert.equal(get.status, 405);
    assert.equal(((await get.json()) as Answer['body']).errors?.[0]?.extensions.code, 'OUTPOST_ERR_METHOD_NOT_ALLOWED');
  });
});
