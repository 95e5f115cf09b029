// POST /agent/events (run events as NDJSON) through the fetch handler, on SQLite and PostgreSQL:
// the holder's batch is stored (re-sends idempotent, status follows); a malformed line refuses
// the whole batch with INVALID_ARGUMENT naming the line; too many lines or too many bytes are
// refused naming maxEventsPerBatch / maxBodyBytes; another token's agent, an agent without the
// run, a missing token or the wrong content type are refused; no refusal writes anything. A batch
// sent ahead of its predecessor waits for it (the agent keeps several in flight); past the wait
// it is stored all the same, after the gap, as before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendEventsInOrder } from '../../../src/control-plane/http/agent-events.js';
import { listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { postAgentRaw, uploadFixture, type RawAnswer } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

type Answer = RawAnswer<{ highestContiguousSeq?: number; status?: string }>;

const line = (seq: number, type = 'LOG', extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    seq,
    timestamp: 1_700_000_000_000 + seq,
    type,
    stepKey: 'op',
    level: 'info',
    message: `m${seq}`,
    data: { i: seq },
    ...extra,
  });

describeEachDialect('POST /agent/events', (target) => {
  const u = uploadFixture(() => target.freshUrl(), { limits: { maxEventsPerBatch: 5, maxBodyBytes: 4096 } });
  const post = (
    body: string,
    params: Record<string, string> = { agentId: u.agentA, runId: u.runId },
    headers: Record<string, string> = {},
    token: string | null = u.h.agentToken,
  ): Promise<Answer> => postAgentRaw(u.h, '/agent/events', 'application/x-ndjson', params, body, headers, token);
  /** The worker's events as stored (ENGINE events, written by the control plane, left out). */
  const workerEvents = async () =>
    (await listRunEvents(u.h.store, u.runId, 0, 100)).filter((e) => e.workerSeq !== null);
  const storedSeqs = async () => (await workerEvents()).map((e) => e.workerSeq);

  async function refused(a: Promise<Answer>, code: string, status: number): Promise<Answer> {
    const before = JSON.stringify([await storedSeqs(), (await getRun(u.h.store.db, u.runId))?.lastSeq]);
    const answer = await a;
    assert.equal(answer.body.errors?.[0]?.extensions.code, `OUTPOST_ERR_${code}`, JSON.stringify(answer));
    assert.equal(answer.status, status);
    assert.ok(answer.body.errors?.[0]?.extensions.hint, 'the refusal carries a hint');
    assert.equal(JSON.stringify([await storedSeqs(), (await getRun(u.h.store.db, u.runId))?.lastSeq]), before);
    return answer;
  }

  test("the holder's batch is stored; a re-sent batch changes nothing; status follows", async () => {
    assert.deepEqual((await post([line(1, 'RUN_START'), line(2), line(3)].join('\n') + '\n')).body, {
      highestContiguousSeq: 3,
      status: 'STARTED',
    });
    assert.deepEqual((await post([line(2), line(3)].join('\n'))).body, { highestContiguousSeq: 3, status: 'STARTED' });
    assert.deepEqual(await storedSeqs(), [1, 2, 3]);
    const third = (await workerEvents())[2];
    assert.deepEqual(third?.data, { i: 3 });
    assert.equal(third?.message, 'm3');
  });

  test('odd but valid lines are stored byte for byte as JSON.parse + JSON.stringify would store them', async () => {
    const last = (await getRun(u.h.store.db, u.runId))!.lastSeq;
    const s = (n: number) => last + n;
    // Compact lines (the scanner's fast path) and spellings it leaves to JSON.parse.
    const batches = [
      [
        `{"seq":${s(1)},"timestamp":1.5,"type":"LOG","message":"a\\nb \\"q\\" \\u00e9","data":{"__proto__":{"x":[1,-0.5,1e+21]},"":null}}`,
        `{"seq":${s(2)},"timestamp":17,"type":"LOG","data":{"b":1,"2":2}}`,
        `{ "seq" : ${s(3)}, "timestamp": 3, "type": "LOG", "data": [1.0, 4.2e1, "\\/"], "level": null }`,
      ],
      [
        `{"seq":${s(4)},"timestamp":1700000000000,"type":"LOG","stepKey":"op","data":{"s":"\ud83d\ude00 \u2028","t":true}}\r`,
        `{"type":"LOG","seq":${s(5)},"timestamp":2,"data":null,"error":{"e":[[]],"f":{}}}`,
      ],
      [
        `{"seq":${s(6)},"timestamp":6,"type":"LOG","data":{"a":{"a":1,"a":2}}}`,
        `{"seq":${s(7)},"timestamp":7,"type":"LOG","data":"\\u00e9"}`,
      ],
    ];
    for (const b of batches) assert.equal((await post(b.join('\n'))).status, 200);
    const rows = await u.h.store.db
      .selectFrom('run_events')
      .select(['worker_seq', 'type', 'timestamp', 'step_key', 'level', 'message', 'data', 'error'])
      .where('run_id', '=', u.runId)
      .where('worker_seq', '>', last)
      .orderBy('worker_seq')
      .execute();
    const want = batches.flat().map((l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      const text = (v: unknown) => (v == null ? null : JSON.stringify(v));
      return [
        e.seq,
        e.type,
        e.timestamp,
        e.stepKey ?? null,
        e.level ?? null,
        e.message ?? null,
        text(e.data),
        text(e.error),
      ];
    });
    assert.deepEqual(
      rows.map((r) => [
        Number(r.worker_seq),
        r.type,
        Number(r.timestamp),
        r.step_key,
        r.level,
        r.message,
        r.data,
        r.error,
      ]),
      want,
    );
  });

  test('a malformed line refuses the whole batch with INVALID_ARGUMENT naming the line', async () => {
    for (const bad of [
      '{not json',
      '[1,2]',
      JSON.stringify({ seq: 5, type: 'LOG' }),
      JSON.stringify({ seq: 'x', type: 'LOG', timestamp: 1 }),
      JSON.stringify({ seq: 5, type: 'NOPE', timestamp: 1 }),
      JSON.stringify({ seq: 5, type: 'LOG', timestamp: 1, extra: 1 }),
      JSON.stringify({ seq: 5, type: 'LOG', timestamp: 1, message: 7 }),
    ]) {
      const a = await refused(post([line(4), bad].join('\n')), 'INVALID_ARGUMENT', 400);
      assert.match(a.body.errors![0]!.message, /lines\[1\]|events\[1\]/, bad);
    }
  });

  test('too many lines or too many bytes are refused naming the limit', async () => {
    const six = [4, 5, 6, 7, 8, 9].map((s) => line(s)).join('\n');
    const many = await refused(post(six), 'BATCH_TOO_LARGE', 400);
    assert.match(many.body.errors![0]!.message, /maxEventsPerBatch is 5/);
    const huge = line(4, 'LOG', { message: 'x'.repeat(5000) });
    const big = await refused(post(huge), 'BODY_TOO_LARGE', 413);
    assert.match(big.body.errors![0]!.message, /maxBodyBytes is 4096/);
  });

  test("another token's agent, an agent without the run, no token, the wrong type: refused", async () => {
    const forged = line(4, 'RUN_SUCCESS');
    await refused(post(forged, { agentId: u.agentB, runId: u.runId }), 'FORBIDDEN', 403);
    await refused(post(forged, { agentId: u.agentB, runId: u.runId }, {}, u.tokenB), 'RUN_NOT_OWNED', 409);
    await refused(post(forged, { agentId: u.agentA, runId: u.runId }, {}, null), 'UNAUTHENTICATED', 401);
    await refused(post(forged, { agentId: u.agentA, runId: u.runId }, {}, u.h.userToken), 'FORBIDDEN', 403);
    await refused(
      post(forged, { agentId: u.agentA, runId: u.runId }, { 'content-type': 'application/json' }),
      'UNSUPPORTED_MEDIA_TYPE',
      415,
    );
    await refused(post(forged, { agentId: u.agentA }), 'INVALID_ARGUMENT', 400);
    assert.equal((await getRun(u.h.store.db, u.runId))?.status, 'STARTED');
  });

  test('a batch sent ahead of its predecessor waits for it; both land in order', async () => {
    const last = (await getRun(u.h.store.db, u.runId))!.lastSeq;
    const second = post([line(last + 4), line(last + 5)].join('\n'));
    await new Promise((r) => setTimeout(r, 50));
    const first = await post([last + 1, last + 2, last + 3].map((s) => line(s)).join('\n'));
    assert.equal(first.body.highestContiguousSeq, last + 3);
    // Answered once its predecessor was stored: it extended the contiguous seqs itself.
    assert.equal((await second).body.highestContiguousSeq, last + 5);
    assert.deepEqual(
      (await storedSeqs()).slice(-5),
      [1, 2, 3, 4, 5].map((i) => last + i),
    );
  });

  test('an empty batch is answered with what is stored; it waits for no predecessor', { timeout: 10_000 }, async () => {
    const last = (await getRun(u.h.store.db, u.runId))!.lastSeq;
    // A wait past the test's timeout: an empty batch that armed one (it has no first seq, so no
    // predecessor ever arrives) would fail the test.
    const answer = await appendEventsInOrder(u.h.store, u.runId, [], 15_000);
    assert.equal(answer.highestContiguousSeq, last);
    assert.equal((await post('\n\n')).body.highestContiguousSeq, last);
  });

  test('a gap that does not fill: the batch is stored after the wait, and the gap fills later', async () => {
    const last = (await getRun(u.h.store.db, u.runId))!.lastSeq;
    const ahead = await appendEventsInOrder(u.h.store, u.runId, [{ seq: last + 2, type: 'LOG', timestamp: 1 }], 100);
    assert.equal(ahead.highestContiguousSeq, last);
    const filled = await appendEventsInOrder(u.h.store, u.runId, [{ seq: last + 1, type: 'LOG', timestamp: 1 }], 100);
    assert.equal(filled.highestContiguousSeq, last + 2);
  });
});
