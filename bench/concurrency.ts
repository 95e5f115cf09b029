// Concurrency: 200 (quick: 60) concurrent `sleepy` runs on one `outpost agent` child process.
// Reports the time from the first launch to all runs STARTED, the agent's peak RSS and CPU while
// they run, and missed heartbeats: the store's lastHeartbeatAt is sampled every 250 ms, and any
// gap longer than 1.5 heartbeat intervals counts as a miss (target 0).
//   npx tsx bench/concurrency.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isQuick, report } from './support/report.js';
import { cpuMs, HELLO_MODULE, rssMb, sleep, startBenchSystem } from './support/stack.js';

const quick = isQuick();
const RUNS = quick ? 60 : 200;
const SLEEP_S = quick ? 15 : 40;
const HEARTBEAT_MS = 2_000;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-concurrency-'));
  const sys = await startBenchSystem({
    databaseUrl: `sqlite:${join(dir, 'c.db')}`,
    storeLimits: { heartbeatIntervalMs: HEARTBEAT_MS },
  });
  try {
    // 100, not RUNS: the agent asks claimWork for all its free slots and the control plane
    // refuses a limit above maxClaimBatch (100), so a larger value stalls the poller.
    const child = await sys.spawnAgent(['--max-in-flight', '100']);
    const pid = child.pid!;
    await sys.stack.deploy('hello', HELLO_MODULE);
    const store = sys.stack.cp.store;

    // Sampler: RSS, CPU and heartbeats, every 250 ms until stopped.
    let sampling = true;
    let peakRss = 0;
    let lastBeat = 0;
    let maxGap = 0;
    let missed = 0;
    const sampler = (async () => {
      for (let i = 0; i < 100_000 && sampling; i++) {
        peakRss = Math.max(peakRss, rssMb(pid));
        const a = await store.db.selectFrom('agents').select('last_heartbeat_at').executeTakeFirst();
        const beat = Number(a?.last_heartbeat_at ?? 0);
        if (beat !== lastBeat) {
          if (lastBeat) {
            const gap = beat - lastBeat;
            maxGap = Math.max(maxGap, gap);
            if (gap > 1.5 * HEARTBEAT_MS) missed += Math.floor(gap / HEARTBEAT_MS) - 1 || 1;
          }
          lastBeat = beat;
        }
        await sleep(250);
      }
    })();

    const cpu0 = cpuMs(pid);
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++) ids.push(await sys.stack.launch('sleepy', { seconds: SLEEP_S }));
    const launchedAt = Date.now();
    const pending = new Set(ids);
    let allStartedAt = 0;
    for (let i = 0; i < 100_000 && pending.size; i++) {
      const rows = await store.db
        .selectFrom('runs')
        .select(['id', 'status'])
        .where('id', 'in', [...pending])
        .execute();
      for (const r of rows) if (r.status !== 'QUEUED' && r.status !== 'STARTING') pending.delete(r.id);
      if (pending.size) await sleep(50);
      else allStartedAt = Date.now();
      if (Date.now() - t0 > 10 * 60_000) break;
    }
    const cpuStart = cpuMs(pid);
    const tStart = Date.now();
    // Wait for all to finish (bounded), then stop sampling.
    const finished = new Map<string, string>();
    for (let i = 0; i < 100_000 && finished.size < RUNS; i++) {
      const rows = await store.db.selectFrom('runs').select(['id', 'status']).where('id', 'in', ids).execute();
      for (const r of rows) if (['SUCCESS', 'FAILURE', 'CANCELED'].includes(r.status)) finished.set(r.id, r.status);
      if (finished.size < RUNS) await sleep(250);
      if (Date.now() - t0 > 15 * 60_000) break;
    }
    const cpuSteady = ((cpuMs(pid) - cpuStart) / Math.max(1, Date.now() - tStart)) * 100;
    const cpuTotal = ((cpuMs(pid) - cpu0) / Math.max(1, Date.now() - t0)) * 100;
    sampling = false;
    await sampler;
    const ok = [...finished.values()].filter((s) => s === 'SUCCESS').length;
    report(
      'concurrency',
      { quick, runs: RUNS, sleepSeconds: SLEEP_S, heartbeatIntervalMs: HEARTBEAT_MS, store: 'sqlite' },
      [
        {
          name: 'first launch → all STARTED',
          value: allStartedAt ? allStartedAt - t0 : NaN,
          unit: 'ms',
          note: `${RUNS} runs; launching took ${launchedAt - t0} ms (sequential launchRun calls)`,
        },
        {
          name: 'agent peak RSS',
          value: peakRss,
          unit: 'MB',
          note: 'agent process only (run workers are separate processes)',
        },
        { name: 'agent CPU, whole test', value: cpuTotal, unit: '% of a core' },
        {
          name: 'agent CPU, all runs supervised',
          value: cpuSteady,
          unit: '% of a core',
          note: 'from all STARTED to all finished',
        },
        {
          name: 'missed heartbeats',
          value: missed,
          unit: 'count',
          target: '0',
          note: `largest gap ${maxGap} ms (interval ${HEARTBEAT_MS} ms)`,
        },
        { name: 'runs SUCCESS', value: ok, unit: 'runs', target: String(RUNS) },
      ],
    );
  } finally {
    await sys.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
