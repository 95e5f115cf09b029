// Attack suite: an agent whose lease is reclaimed while its upload's body is still arriving.
// POST /agent/events and /agent/logs check ownership before reading the body, so a slow body
// (or a large one) outlives that check: agent A passes it, A's lease on the run's launch lapses
// and agent B of another deployment claims the launch, then A's body ends. The batch must be
// refused (RUN_NOT_OWNED) and write nothing: "an agent writes only its own work" is decided
// when the batch is written, not when it started. Through the fetch handler, on SQLite and
// PostgreSQL; the body is a stream the test ends itself, so the order is exact, not timed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import { listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import {
  openHarness,
  postAgentRaw,
  runOfAgentA,
  type Harness,
  type RawAnswer,
  type RunOfAgentA,
} from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

type Refusal = RawAnswer<Record<string, unknown>>['body'];

/** A request body that the handler starts reading (`reading`) and that ends on `finish()`. */
function heldBody(bytes: string): { body: ReadableStream<Uint8Array>; reading: Promise<void>; finish(): void } {
  let started!: () => void;
  let release!: () => void;
  const reading = new Promise<void>((r) => (started = r));
  const held = new Promise<void>((r) => (release = r));
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        started();
        await held;
        c.enqueue(Buffer.from(bytes));
        c.close();
      },
    },
    // No read ahead: the first pull is the handler's first read of the body.
    { highWaterMark: 0 },
  );
  return { body, reading, finish: release };
}

const eventLine = (seq: number, type = 'LOG') =>
  JSON.stringify({ seq, timestamp: 1_700_000_000_000 + seq, type, message: `m${seq}` });

describeEachDialect('attack: an upload whose agent loses the run while its body is read', (target) => {
  /** A fresh store with a run agent A holds by its lease alone (claimed, not yet launched). */
  async function claimedRun(): Promise<{ h: Harness } & RunOfAgentA> {
    const h = await openHarness(await target.freshUrl());
    return { h, ...(await runOfAgentA(h, 'claimed')) };
  }

  /**
   * Starts A's POST of `bytes` to `path`, and once the handler reads the body (A passed the
   * check before it) lets A's lease lapse and has B claim the launch; then the body ends.
   */
  async function uploadOutlivingLease(
    { h, agentA, agentB, tokenB, runId }: { h: Harness } & RunOfAgentA,
    path: '/agent/events' | '/agent/logs',
    contentType: string,
    params: Record<string, string>,
    bytes: string,
  ): Promise<{ status: number; body: Refusal }> {
    const held = heldBody(bytes);
    const answer = h.handler(
      new Request(`http://127.0.0.1${path}?${new URLSearchParams({ agentId: agentA, runId, ...params })}`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${h.agentToken}` },
        body: held.body,
        duplex: 'half',
      } as RequestInit),
    );
    await held.reading;
    h.clock.now += h.store.limits.leaseMs + 1;
    const claimed = await h.gql<{ claimWork: { runId: string | null }[] }>(
      'agent',
      `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { runId } }`,
      { a: agentB },
      tokenB,
    );
    assert.deepEqual(
      claimed.data?.claimWork.map((w) => w.runId),
      [runId],
      `B claims the launch once A's lease lapsed: ${JSON.stringify(claimed)}`,
    );
    held.finish();
    const res = await answer;
    return { status: res.status, body: (await res.json()) as Refusal };
  }

  const assertRunNotOwned = (a: { status: number; body: Refusal }) => {
    assert.equal(a.body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_RUN_NOT_OWNED', JSON.stringify(a.body));
    assert.equal(a.status, 409);
  };

  test("POST /agent/events: A's batch that ends after B claimed the run is refused and stores nothing", async () => {
    const run = await claimedRun();
    const { h, runId } = run;
    try {
      const lines = [eventLine(1, 'RUN_START'), eventLine(2), eventLine(3, 'RUN_SUCCESS')].join('\n');
      assertRunNotOwned(await uploadOutlivingLease(run, '/agent/events', 'application/x-ndjson', {}, lines));
      const workerEvents = (await listRunEvents(h.store, runId, 0, 100)).filter((e) => e.workerSeq !== null);
      assert.deepEqual(workerEvents, [], 'no event of the refused batch is stored');
      const after = await getRun(h.store.db, runId);
      assert.equal(after?.lastSeq, 0);
      assert.equal(after?.status, 'QUEUED', "A's RUN_SUCCESS did not end the run");
      // B, the holder now, writes the run as usual.
      const b = await postAgentRaw<{ highestContiguousSeq?: number }>(
        h,
        '/agent/events',
        'application/x-ndjson',
        { agentId: run.agentB, runId },
        eventLine(1, 'RUN_START'),
        {},
        run.tokenB,
      );
      assert.equal(b.body.highestContiguousSeq, 1, JSON.stringify(b.body));
    } finally {
      await h.close();
    }
  });

  test("POST /agent/logs: A's chunk that ends after B claimed the run is refused and stores nothing", async () => {
    const run = await claimedRun();
    const { h, runId } = run;
    try {
      const a = await uploadOutlivingLease(
        run,
        '/agent/logs',
        'application/octet-stream',
        { stream: 'stdout', offset: '0' },
        'forged output\n',
      );
      assertRunNotOwned(a);
      const stdout = await readComputeLogs(h.store, runId, 'stdout', 0);
      assert.equal(stdout.data, '', 'no byte of the refused chunk is stored');
      assert.equal(stdout.nextOffset, 0);
      const b = await postAgentRaw<{ storedBytes?: number }>(
        h,
        '/agent/logs',
        'application/octet-stream',
        { agentId: run.agentB, runId, stream: 'stdout', offset: '0' },
        'real output\n',
        {},
        run.tokenB,
      );
      assert.equal(b.body.storedBytes, 12, JSON.stringify(b.body));
    } finally {
      await h.close();
    }
  });
});
