// Throughput: no-op EVALUATE_SENSOR work items end to end (enqueue in the store → agent claims →
// workflow → gRPC evaluation in the code server → completeWork stored), with 1, 8 and 64 items
// outstanding at a time. Floor, same run, same Temporal server: raw Temporal, the same number of
// empty workflows with one empty activity each, at the same concurrency. Beside it, a floor of
// the shape Outpost's evaluations now have (started eagerly on the worker's own connection, one
// local activity): how close Outpost is to Temporal doing the same work.
//   npx tsx bench/throughput.ts [--quick] [--profile]
// --profile runs concurrency 8 only, with CPU profiles of the bench process (control plane),
// the agent and the code server over the measured window, CPU time per process (incl. the
// Temporal dev server) and a per-item phase timeline; the summary goes to
// bench/results/throughput-profile.md (figures are not written to throughput.json).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { enqueueWork } from '../src/control-plane/store/work-items.js';
import type { Store } from '../src/control-plane/store/store.js';
import * as emptyActivities from './fixtures/temporal/activities.js';
import { formatSummary, summarizeProfile, type CpuProfile } from './support/cpu-profile-summary.js';
import { addHistoryMarks, formatTimeline, StoreMarks, timeline } from './support/phase-trace.js';
import { isQuick, machine, report, type Figure } from './support/report.js';
import { cpuMs, startBenchSystem, type BenchSystem } from './support/stack.js';
import { sleep } from '../test/support/wait.js';
import { workItemWorkflowId } from '../src/shared/workflow-contract.js';

const quick = isQuick();
const profile = process.argv.includes('--profile');
/** Concurrency of the --profile run: `--concurrency N`, default 8. */
const profileLevel = Number(process.argv[process.argv.indexOf('--concurrency') + 1] ?? 8) || 8;
const LEVELS = [1, 8, 64];
/**
 * A pump with no item finishing for this long gives up (the agent died or the queue is stuck).
 * Longer than a lease (60 s), so an item recovered by lease expiry is waited for, not an error.
 */
const STALL_MS = 180_000;
const ITEMS: Record<number, number> = quick ? { 1: 30, 8: 120, 64: 256 } : { 1: 200, 8: 800, 64: 2000 };

/** Keeps `concurrency` items outstanding until `total` completed; returns items/s. */
async function pumpOutpost(
  store: Store,
  concurrency: number,
  total: number,
  marks?: StoreMarks,
  client?: Client,
): Promise<{ rate: number; failed: number }> {
  const outstanding = new Set<string>();
  let started = 0;
  let done = 0;
  let failed = 0;
  const enqueue = async (): Promise<void> => {
    const { item } = await enqueueWork(store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'bench', sensor: 'noop_sensor' },
    });
    outstanding.add(item.id);
    started++;
  };
  const t0 = performance.now();
  let progressAt = t0;
  while (started < Math.min(concurrency, total)) await enqueue();
  for (let i = 0; i < 10_000_000 && done < total; i++) {
    if (performance.now() - progressAt > STALL_MS) {
      const stuck = await store.db
        .selectFrom('work_items')
        .select(['id', 'status', 'attempts', 'workflow_id'])
        .where('id', 'in', [...outstanding])
        .execute();
      const workflows = client
        ? await Promise.all(stuck.filter((r) => r.workflow_id).map((r) => stuckWorkflow(client, r.workflow_id!)))
        : [];
      throw new Error(
        `no item finished in ${STALL_MS / 1000} s (${done} of ${total} done; outstanding: ${JSON.stringify(stuck)}; ` +
          `their workflows: ${JSON.stringify(workflows)})`,
      );
    }
    // Tracing phases reads every outstanding item (to catch CLAIMED and ACKED); otherwise only finished ones.
    const polled = await store.db
      .selectFrom('work_items')
      .select(['id', 'status', 'created_at', 'updated_at'])
      .where('id', 'in', [...outstanding])
      .$if(!marks, (q) => q.where('status', 'in', ['COMPLETED', 'FAILED']))
      .execute();
    for (const r of polled) marks?.see(r.id, r.status, Number(r.updated_at), Number(r.created_at));
    const rows = polled.filter((r) => r.status === 'COMPLETED' || r.status === 'FAILED');
    for (const r of rows) {
      outstanding.delete(r.id);
      done++;
      if (r.status === 'FAILED') failed++;
      if (started < total) await enqueue();
    }
    if (rows.length) progressAt = performance.now();
    else await sleep(2);
  }
  return { rate: total / ((performance.now() - t0) / 1000), failed };
}

/** What a stuck item's workflow waits for: its history's event types and pending activities. */
async function stuckWorkflow(client: Client, workflowId: string): Promise<unknown> {
  try {
    const handle = client.workflow.getHandle(workflowId);
    const [d, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
    return {
      workflowId,
      status: d.status.name,
      events: (history.events ?? []).map((e) => Number(e.eventType)),
      pendingActivities: (d.raw.pendingActivities ?? []).map((a) => ({
        type: a.activityType?.name,
        state: a.state,
        attempt: a.attempt,
        lastStartedTime: a.lastStartedTime,
        lastWorkerIdentity: a.lastWorkerIdentity,
      })),
      pendingWorkflowTask: d.raw.pendingWorkflowTask ?? null,
    };
  } catch (err) {
    return { workflowId, error: (err as Error).message };
  }
}

async function pumpTemporal(
  client: Client,
  taskQueue: string,
  concurrency: number,
  total: number,
  shape: 'activity' | 'eager local' = 'activity',
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const workflowId = `${taskQueue}-${shape === 'activity' ? '' : 'el-'}${concurrency}-${i}`;
      if (shape === 'activity') await client.workflow.execute('emptyWorkflow', { taskQueue, workflowId });
      else await client.workflow.execute('emptyLocalWorkflow', { taskQueue, workflowId, requestEagerStart: true });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return total / ((performance.now() - t0) / 1000);
}

/** `pid` and every process below it (the agent's code server and standby run worker), from /proc. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(Number(d));
    } catch {
      // exited while we looked
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length && i < 10_000; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** CPU ms used so far by every process of the system under test: bench process (control plane), agent tree, dev server. */
function systemCpuMs(sys: BenchSystem): number {
  const pids = [process.pid, sys.temporal.process.pid!, ...processTree(sys.agentProcess!.pid!)];
  return pids.reduce((sum, pid) => {
    try {
      return sum + cpuMs(pid);
    } catch {
      return sum;
    }
  }, 0);
}

/** Pids of the processes that loaded bench/support/cpu-profile.mjs, with a short role name. */
function profiledProcesses(dir: string): Array<{ pid: number; role: string }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.argv'))
    .map((f) => {
      const argv = JSON.parse(readFileSync(join(dir, f), 'utf8')) as string[];
      const role = argv.includes('agent')
        ? 'agent'
        : argv.join(' ').includes('code-server')
          ? 'code server'
          : argv.join(' ');
      return { pid: Number(f.replace('.argv', '')), role };
    })
    .filter((p) => existsSync(`/proc/${p.pid}`));
}

/**
 * Concurrency 8 under the profilers: CPU profiles of every Node process on the path, CPU time of
 * each (and of the Temporal dev server) over the window, and the per-item phase timeline.
 */
async function profileLevelRun(sys: BenchSystem, profileDir: string, client: Client, raw: () => Promise<number>) {
  const store = sys.stack.cp.store;
  const n = ITEMS[profileLevel] ?? ITEMS[8]!;
  const children = profiledProcesses(profileDir);
  console.error(`profiling ${children.map((c) => `${c.role} (${c.pid})`).join(', ')}`);
  const pids = [
    { pid: process.pid, role: 'bench process (control plane + bench loop)' },
    ...children,
    { pid: sys.temporal.process.pid!, role: 'temporal dev server' },
  ];
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  const cpu0 = pids.map((p) => cpuMs(p.pid));
  for (const c of children) process.kill(c.pid, 'SIGWINCH');
  await session.post('Profiler.start');
  const t0 = performance.now();
  const marks = new StoreMarks();
  const outpost = await pumpOutpost(store, profileLevel, n, marks, client);
  const wallMs = performance.now() - t0;
  const { profile: own } = await session.post('Profiler.stop');
  for (const c of children) process.kill(c.pid, 'SIGWINCH');
  const cpu = pids.map((p, i) => cpuMs(p.pid) - cpu0[i]!);
  session.disconnect();
  const rawRate = await raw();

  const items = [...marks.byItem.entries()];
  for (const [id, m] of items) await addHistoryMarks(client, workItemWorkflowId(id), m);
  for (let i = 0; i < 50 && children.some((c) => !existsSync(join(profileDir, `${c.pid}.cpuprofile`))); i++)
    await sleep(100);

  const lines = [
    `# throughput --profile (concurrency ${profileLevel}, ${n} items${quick ? ', quick' : ''})`,
    '',
    `at ${new Date().toISOString()}, machine ${JSON.stringify(machine())}`,
    '',
    `outpost ${outpost.rate.toFixed(1)} items/s (${outpost.failed} failed), raw Temporal ${rawRate.toFixed(1)} wf/s, ratio ${(outpost.rate / rawRate).toFixed(2)} (both under the profiler's overhead)`,
    '',
    `## CPU time over the ${wallMs.toFixed(0)} ms window (from /proc; 2 cores = ${(2 * wallMs).toFixed(0)} ms available)`,
    '',
    '| process | CPU ms | % of one core | CPU ms per item |',
    '| --- | --- | --- | --- |',
    ...pids.map(
      (p, i) => `| ${p.role} | ${cpu[i]!} | ${((cpu[i]! / wallMs) * 100).toFixed(0)} % | ${(cpu[i]! / n).toFixed(1)} |`,
    ),
    '',
    `## Phase timeline (median over ${items.length} items; store marks are updated_at of each status, seen by a 2 ms poll)`,
    '',
    ...formatTimeline(timeline(items.map(([, m]) => m))),
    '',
    '## CPU profiles (V8 sampling, self time and inclusive time per area as a share of busy time)',
    '',
    ...formatSummary('bench process (control plane + bench loop)', summarizeProfile(own as CpuProfile)),
    ...children.flatMap((c) => {
      const f = join(profileDir, `${c.pid}.cpuprofile`);
      return existsSync(f)
        ? formatSummary(c.role, summarizeProfile(JSON.parse(readFileSync(f, 'utf8')) as CpuProfile))
        : [`### ${c.role}: no profile written`, ''];
    }),
  ];
  writeFileSync(
    `bench/results/throughput-profile${profileLevel === 8 ? '' : `-c${profileLevel}`}.md`,
    `${lines.join('\n')}\n`,
  );
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-throughput-'));
  const sys = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'tp.db')}` });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const figures: Figure[] = [];
  const profileDir = join(dir, 'profiles');
  try {
    if (profile) {
      // Only the agent (and the code server it spawns, which inherits its environment) load the preload.
      mkdirSync(profileDir);
      process.env.OUTPOST_CPU_PROFILE_DIR = profileDir;
      process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${resolve('bench/support/cpu-profile.mjs')}`;
    }
    const agent = await sys.spawnAgent(['--max-in-flight', '64']);
    let agentTail = '';
    for (const s of [agent.stderr, agent.stdout])
      s?.on('data', (b: Buffer) => (agentTail = (agentTail + b.toString()).slice(-4000)));
    agent.once('exit', (code, sig) => console.error(`agent exited (${code ?? sig}): ${agentTail}`));
    if (profile) {
      delete process.env.OUTPOST_CPU_PROFILE_DIR;
      process.env.NODE_OPTIONS = process.env.NODE_OPTIONS!.replace(/ --import \S+cpu-profile\.mjs$/, '');
    }
    await sys.stack.deploy('bench', resolve('bench/fixtures/bench-location.ts'));
    const store = sys.stack.cp.store;
    await pumpOutpost(store, 4, 20); // warm-up: code paths, gRPC channel, workflow cache

    const taskQueue = `bench-raw-${Date.now()}`;
    const native = await NativeConnection.connect({ address: sys.temporal.address });
    const worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowsPath: resolve('bench/fixtures/temporal/workflows.ts'),
      activities: emptyActivities,
    });
    // The same-shape floor's worker: the agent's slot limits (src/agent/worker.ts), its own queue.
    const sameQueue = `${taskQueue}-same`;
    const sameWorker = await Worker.create({
      connection: native,
      taskQueue: sameQueue,
      workflowsPath: resolve('bench/fixtures/temporal/workflows.ts'),
      activities: emptyActivities,
      maxConcurrentWorkflowTaskExecutions: 200,
      maxConcurrentLocalActivityExecutions: 200,
    });
    const running = Promise.all([worker.run(), sameWorker.run()]);
    const connection = await Connection.connect({ address: sys.temporal.address });
    const client = new Client({ connection });
    // Eager start needs the client on the worker's own NativeConnection.
    const eagerClient = new Client({ connection: native });
    await pumpTemporal(client, taskQueue, 4, 20); // warm-up
    await pumpTemporal(eagerClient, sameQueue, 4, 20, 'eager local');
    if (profile)
      await profileLevelRun(sys, profileDir, client, () =>
        pumpTemporal(client, taskQueue, profileLevel, ITEMS[profileLevel] ?? ITEMS[8]!),
      );
    for (const c of profile ? [] : LEVELS) {
      const n = ITEMS[c]!;
      // CPU per item of the whole system (both cores, all processes) is the figure least moved
      // by other work on this shared machine; the rates below are what a user sees.
      const cpu0 = systemCpuMs(sys);
      const outpost = await pumpOutpost(store, c, n, undefined, client);
      const cpu1 = systemCpuMs(sys);
      const raw = await pumpTemporal(client, taskQueue, c, n);
      const cpu2 = systemCpuMs(sys);
      const same = await pumpTemporal(eagerClient, sameQueue, c, n, 'eager local');
      const cpu3 = systemCpuMs(sys);
      const [cpuItem, cpuRaw, cpuSame] = [(cpu1 - cpu0) / n, (cpu2 - cpu1) / n, (cpu3 - cpu2) / n];
      figures.push(
        {
          name: `outpost, concurrency ${c}`,
          value: outpost.rate,
          unit: 'items/s',
          note: `${n} no-op sensor evaluations, ${outpost.failed} failed`,
        },
        {
          name: `raw Temporal, concurrency ${c}`,
          value: raw,
          unit: 'workflows/s',
          note: `${n} empty workflow + empty activity`,
        },
        {
          name: `outpost / raw Temporal, concurrency ${c}`,
          value: outpost.rate / raw,
          unit: 'ratio',
          target: '≥ 0.9',
        },
        {
          name: `CPU per item, concurrency ${c}`,
          value: cpuItem,
          unit: 'ms',
          note: 'all processes: control plane + bench loop, agent + code server, Temporal dev server',
        },
        {
          name: `CPU per raw workflow, concurrency ${c}`,
          value: cpuRaw,
          unit: 'ms',
          note: 'the same processes (the raw worker runs in the bench process)',
        },
        { name: `raw CPU / outpost CPU per item, concurrency ${c}`, value: cpuRaw / cpuItem, unit: 'ratio' },
        {
          name: `raw Temporal same shape, concurrency ${c}`,
          value: same,
          unit: 'workflows/s',
          note: `${n} empty workflows started eagerly, one empty local activity each`,
        },
        { name: `outpost / raw same shape, concurrency ${c}`, value: outpost.rate / same, unit: 'ratio' },
        { name: `CPU per same-shape raw workflow, concurrency ${c}`, value: cpuSame, unit: 'ms' },
      );
    }
    worker.shutdown();
    sameWorker.shutdown();
    await running;
    await connection.close();
    await native.close();
    if (!profile)
      report(
        'throughput',
        { quick, levels: LEVELS, items: ITEMS, store: 'sqlite', agent: 'child process, --max-in-flight 64' },
        figures,
      );
  } finally {
    await sys.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
