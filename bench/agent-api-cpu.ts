// Agent API CPU: the control plane's CPU per event and per MiB through its real HTTP server and
// raw-body endpoints (POST /agent/events NDJSON in the agent's batch size, POST /agent/logs in
// its chunk size, as many requests in flight as the shipper keeps), sent by a client process of
// its own, against the store alone in the same process: the floors of ingest and logs
// (appendRunEvents in the same batches, parsed beforehand; appendComputeLogs in the same chunks).
// process.cpuUsage() of this process around each, so the figure hardly depends on other load on
// the machine (unlike ingest's and logs' wall-clock ratios, whose bottleneck is this CPU). SQLite.
// Each figure is also split by thread (support/thread-cpu.ts): the main thread, where every
// request waits its turn, and the process's other threads (V8's GC helpers, the SQLite checkpoint
// thread), which the sum hides.
//   npx tsx bench/agent-api-cpu.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_BATCH, EVENT_BATCHES_IN_FLIGHT, LOG_CHUNK, LOG_CHUNKS_IN_FLIGHT } from '../src/agent/spool-shipper.js';
import { parseEventLines } from '../src/control-plane/graphql/event-lines.js';
import { createNodeServer } from '../src/control-plane/http/node-server.js';
import { createRun } from '../src/control-plane/services/runs-service.js';
import { appendComputeLogs } from '../src/control-plane/store/compute-logs.js';
import { appendRunEvents } from '../src/control-plane/store/run-events.js';
import { DEFAULT_API_LIMITS } from '../src/control-plane/limits.js';
import { createLogger } from '../src/shared/logger.js';
import { openHarness, runOfAgentA, type Harness } from '../test/support/control-plane-harness.js';
import { isQuick, report, summarize, type Figure } from './support/report.js';
import { threadCpu, threadCpuSince, type ThreadCpu } from './support/thread-cpu.js';
import { clientCpu, cpuOf } from './support/window-cpu.js';

const quick = isQuick();
const REPS = quick ? 2 : 5;
const EVENTS = quick ? 20_000 : 100_000;
const MIB = 1024 * 1024;
const LOG_BYTES = (quick ? 16 : 64) * MIB;
const CLIENT = join(import.meta.dirname, 'support', 'agent-api-client.mjs');

const line = (seq: number) =>
  `{"seq":${seq},"timestamp":${1_700_000_000_000 + seq},"type":"LOG","stepKey":"chatter","level":"info","message":"chatter","data":{"i":${seq}}}`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-agent-api-'));
  const h: Harness = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`, {
    realClock: true,
    storeLimits: { computeLogCapBytes: 64 * LOG_BYTES * REPS },
  });
  const server = createNodeServer({
    handler: h.handler,
    maxBodyBytes: DEFAULT_API_LIMITS.maxBodyBytes,
    logger: createLogger({ name: 'bench', level: 'silent' }),
  });
  try {
    const { agentA, runId } = await runOfAgentA(h);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    /** This process's CPU while the client sends everything and gets every answer. */
    async function viaHttp(kind: 'events' | 'logs', from: number): Promise<number> {
      const [count, size, inFlight] =
        kind === 'events'
          ? [EVENTS, EVENT_BATCH, EVENT_BATCHES_IN_FLIGHT]
          : [LOG_BYTES / LOG_CHUNK, LOG_CHUNK, LOG_CHUNKS_IN_FLIGHT];
      const args = [url, h.agentToken, agentA, runId, kind, from, count, size, inFlight].map(String);
      return clientCpu(CLIENT, args);
    }
    const freshRun = async () =>
      (
        await h.store.transaction((trx) =>
          createRun(trx, h.store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
        )
      ).run.id;

    /** `fn`'s answer and the thread split over it, in ms. */
    const split = async <T>(fn: () => Promise<T>): Promise<[T, ThreadCpu]> => {
      const t0 = threadCpu();
      const out = await fn();
      return [out, threadCpuSince(t0)];
    };
    const splits: Record<'ev' | 'evFloor' | 'logs' | 'logsFloor', ThreadCpu[]> = {
      ev: [],
      evFloor: [],
      logs: [],
      logsFloor: [],
    };
    const ev: number[] = [];
    const evFloor: number[] = [];
    const logs: number[] = [];
    const logsFloor: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const [evMs, evSplit] = await split(() => viaHttp('events', r * EVENTS + 1));
      ev.push((evMs * 1000) / EVENTS);
      splits.ev.push(evSplit);
      const floorRun = await freshRun();
      const batches: ReturnType<typeof parseEventLines>[] = [];
      for (let s = 1; s <= EVENTS; s += EVENT_BATCH) {
        const lines: string[] = [];
        for (let i = s; i < Math.min(s + EVENT_BATCH, EVENTS + 1); i++) lines.push(line(i));
        batches.push(parseEventLines(lines.join('\n')));
      }
      const [evFloorMs, evFloorSplit] = await split(() =>
        cpuOf(async () => {
          for (const b of batches) await appendRunEvents(h.store, floorRun, b);
        }),
      );
      evFloor.push((evFloorMs * 1000) / EVENTS);
      splits.evFloor.push(evFloorSplit);
      const [logsMs, logsSplit] = await split(() => viaHttp('logs', r * LOG_BYTES));
      logs.push(logsMs / (LOG_BYTES / MIB));
      splits.logs.push(logsSplit);
      const logRun = await freshRun();
      const chunk = Buffer.alloc(LOG_CHUNK, 'x');
      const [logsFloorMs, logsFloorSplit] = await split(() =>
        cpuOf(async () => {
          for (let off = 0; off < LOG_BYTES; off += LOG_CHUNK)
            await appendComputeLogs(h.store, logRun, 'stdout', off, chunk);
        }),
      );
      logsFloor.push(logsFloorMs / (LOG_BYTES / MIB));
      splits.logsFloor.push(logsFloorSplit);
    }
    const p50 = (xs: number[]) => summarize(xs).p50;
    /** Per event (µs) or per MiB (ms): the main thread's and the other threads' medians. */
    const byThread = (key: keyof typeof splits, per: number, unit: string, what: string): Figure[] => [
      {
        name: `${what}: main thread`,
        value: p50(splits[key].map((t) => t.mainMs / per)),
        unit,
        note: '10 ms ticks (/proc)',
      },
      { name: `${what}: other threads`, value: p50(splits[key].map((t) => t.otherMs / per)), unit },
    ];
    const spread = (xs: number[]) => `${REPS} reps, ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    report(
      'agent-api-cpu',
      { quick, reps: REPS, events: EVENTS, logMiB: LOG_BYTES / MIB, batch: EVENT_BATCH, chunk: LOG_CHUNK },
      [
        {
          name: 'events: control-plane CPU per event via POST /agent/events',
          value: p50(ev),
          unit: 'µs',
          note: spread(ev),
        },
        { name: 'events: floor, appendRunEvents alone', value: p50(evFloor), unit: 'µs', note: spread(evFloor) },
        { name: 'events: floor / via HTTP', value: p50(evFloor) / p50(ev), unit: 'ratio' },
        ...byThread('ev', EVENTS / 1000, 'µs', 'events via HTTP'),
        ...byThread('evFloor', EVENTS / 1000, 'µs', 'events floor'),
        {
          name: 'logs: control-plane CPU per MiB via POST /agent/logs',
          value: p50(logs),
          unit: 'ms',
          note: spread(logs),
        },
        { name: 'logs: floor, appendComputeLogs alone', value: p50(logsFloor), unit: 'ms', note: spread(logsFloor) },
        { name: 'logs: floor / via HTTP', value: p50(logsFloor) / p50(logs), unit: 'ratio' },
        ...byThread('logs', LOG_BYTES / MIB, 'ms', 'logs via HTTP'),
        ...byThread('logsFloor', LOG_BYTES / MIB, 'ms', 'logs floor'),
      ],
    );
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
