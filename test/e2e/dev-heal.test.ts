// A real `outpost dev` heals and stops clean: both token files exist when /healthz first
// answers; kill -9 of the agent, the control plane or Temporal is restarted with a message while
// the rest keeps running, and runs in flight are adopted and finish once; Ctrl-C with runs in
// flight leaves no process of the data dir (run workers and standbys included) and no stack.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readProcStat } from '../../src/agent/launchers/proc.js';
import { readProcessRecord, runDir, spawnCount } from '../../src/agent/launchers/run-records.js';
import { startDevStack, type DevStack } from '../support/dev-stack.js';
import { descendants, processesOfDir } from '../support/process.js';
import { sleep, until as untilWithin } from '../support/wait.js';

let dev: DevStack;

before(async () => {
  dev = await startDevStack();
});
after(async () => {
  await dev?.stop();
});

interface RunView {
  status: string;
  events: Array<{ seq: number; type: string }>;
}

const launch = async (job: string, runConfig: Record<string, unknown> = {}): Promise<string> =>
  (
    await dev.graphql<{ launchRun: { id: string } }>(`mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`, {
      i: { location: 'hello', job, runConfig },
    })
  ).launchRun.id;

// A restart of the control plane or agent takes a while on a loaded host: wait longer than the default.
const until = <T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> =>
  untilWithin(what, fn, timeoutMs, 250);

const runView = async (id: string): Promise<RunView> =>
  (await dev.graphql<{ run: RunView }>(`query($id: ID!) { run(id: $id) { status events { seq type } } }`, { id })).run;

/** The live process of a component: a child of `outpost dev`, found in /proc by its command line. */
function componentPid(tag: 'agent' | 'control-plane' | 'temporal', stack: DevStack = dev): number | undefined {
  const argOf = { agent: 'agent', 'control-plane': 'control-plane', temporal: 'start-dev' };
  for (const pid of descendants(stack.pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== stack.pid || state === 'Z') continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(argOf[tag])) return pid;
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}

const pidOf = (tag: 'agent' | 'control-plane' | 'temporal'): number => {
  const pid = componentPid(tag);
  assert.ok(pid, `no ${tag} process under outpost dev`);
  return pid;
};

/** The run ended with `status`, its events are 1 RUN_START .. 1 terminal, no seq repeated. */
function assertOnce(id: string, view: RunView, status: string): void {
  assert.equal(view.status, status, id);
  const seqs = view.events.map((e) => e.seq);
  assert.equal(new Set(seqs).size, seqs.length, `${id}: a seq repeated: ${seqs.join(',')}`);
  const count = (t: string): number => view.events.filter((e) => e.type === t).length;
  assert.equal(count('RUN_START'), 1, `${id}: RUN_START once`);
  assert.equal(count(`RUN_${status}`), 1, `${id}: RUN_${status} once`);
  assert.equal(spawnCount(runDir(join(dev.dataDir, 'agent'), id)), 1, `${id}: its worker was started once`);
}

test('both token files exist (0600) when /healthz first answers', () => {
  assert.deepEqual(dev.tokensAtFirstHealthz, {
    user: { exists: true, mode: 0o600 },
    agent: { exists: true, mode: 0o600 },
  });
});

test('kill -9 of the agent: restarted with a message, runs in flight adopted and finish once', async () => {
  const ids = await Promise.all([1, 2, 3].map(() => launch('sleepy', { seconds: 15 })));
  await until('the runs STARTED', async () =>
    (await Promise.all(ids.map(runView))).every((r) => r.status === 'STARTED'),
  );
  const agentPid = pidOf('agent');
  const [cpPid, temporalPid] = [pidOf('control-plane'), pidOf('temporal')];
  const seen = dev.output.length;
  process.kill(agentPid, 'SIGKILL');
  await until('the restart message', () =>
    dev.output.slice(seen).some((l) => l.includes('agent exited (signal SIGKILL); restarting in 1s (attempt 2/5)')),
  );
  await until('the agent restarted', () => (componentPid('agent') ?? agentPid) !== agentPid);
  assert.deepEqual([pidOf('control-plane'), pidOf('temporal')], [cpPid, temporalPid], 'the others ran on');
  for (const pid of [cpPid, temporalPid]) process.kill(pid, 0);
  const views = await until('the runs to finish', async () => {
    const v = await Promise.all(ids.map(runView));
    return v.every((r) => r.status === 'SUCCESS' || r.status === 'FAILURE') ? v : undefined;
  });
  ids.forEach((id, i) => assertOnce(id, views[i]!, 'SUCCESS'));
});

test('kill -9 of the control plane, then of Temporal: each restarted, the stack works after', async () => {
  for (const tag of ['control-plane', 'temporal'] as const) {
    const pid = pidOf(tag);
    const agentPid = pidOf('agent');
    const seen = dev.output.length;
    process.kill(pid, 'SIGKILL');
    await until(`${tag} restarted`, () => (componentPid(tag) ?? pid) !== pid);
    assert.ok(
      dev.output.slice(seen).some((l) => l.includes(`${tag} exited (signal SIGKILL); restarting in 1s (attempt 2/5)`)),
      dev.output.slice(seen).join('\n'),
    );
    assert.equal(pidOf('agent'), agentPid, 'the agent ran on');
    const id = await until('a launch to be accepted', () => launch('hello'));
    const view = await until('the hello run to finish', async () => {
      const v = await runView(id);
      return v.status === 'SUCCESS' || v.status === 'FAILURE' ? v : undefined;
    });
    assertOnce(id, view, 'SUCCESS');
  }
});

test('Ctrl-C with runs in flight: nothing of the data dir is left, run workers included, and no stack', async () => {
  const ids = await Promise.all([1, 2, 3, 4, 5].map(() => launch('sleepy', { seconds: 300 })));
  await until('the runs STARTED', async () =>
    (await Promise.all(ids.map(runView))).every((r) => r.status === 'STARTED'),
  );
  const workers = ids.map((id) => readProcessRecord(runDir(join(dev.dataDir, 'agent'), id))!.pid);
  // By pid and start time: pids wrap quickly on a busy host (pid_max is often 32768).
  const startOf = (pid: number): number | undefined => readProcStat(pid)?.startTime;
  const before = new Map(
    [...descendants(dev.pid), ...processesOfDir(dev.dataDir).map((p) => p.pid)].map((pid) => [pid, startOf(pid)]),
  );
  for (const pid of workers) assert.ok(before.has(pid), `run worker ${pid} is found by the scan`);
  const seen = dev.output.length;
  const t0 = Date.now();
  // As a terminal's Ctrl-C does: SIGINT to the whole foreground process group, not only to
  // `outpost dev` (a component in that group would stop on its own and be "restarted").
  process.kill(-dev.pid, 'SIGINT');
  const code = await dev.exited;
  console.log(`# Ctrl-C with 5 runs in flight: outpost dev exited ${code} after ${Date.now() - t0} ms`);
  assert.equal(code, 0);
  const left = processesOfDir(dev.dataDir).filter((p) => p.pid !== process.pid);
  assert.deepEqual(left, [], 'no process of the data dir is left');
  // Everything else it started is gone too (a code server ends when its agent's pipe closes,
  // which may take a moment after the agent exits); a zombie awaiting its reaper does not count.
  const running = ([pid, startTime]: [number, number | undefined]): string | undefined => {
    const st = readProcStat(pid);
    if (!st || st.startTime !== startTime || st.state === 'Z') return undefined;
    try {
      return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 160)}`;
    } catch {
      return undefined;
    }
  };
  let stillAlive = [...before].map(running).filter(Boolean);
  if (stillAlive.length) console.log(`# still exiting as outpost dev ended: ${stillAlive.join('; ')}`);
  for (let i = 0; i < 25 && stillAlive.length; i++) {
    await sleep(200);
    stillAlive = [...before].map(running).filter(Boolean);
  }
  assert.deepEqual(stillAlive, [], 'everything outpost dev started is gone');
  const shutdownOutput = dev.output.slice(seen);
  for (const id of ids)
    assert.ok(
      shutdownOutput.some((l) => l.includes(`stopped run worker of ${id}`)),
      id,
    );
  assert.ok(!shutdownOutput.some((l) => /AbortError|^\s+at |"stack"/.test(l)), shutdownOutput.join('\n'));
  assert.ok(!shutdownOutput.some((l) => /restarting in|restarted/.test(l)), shutdownOutput.join('\n'));
});

test('an agent that keeps crashing: after the 5th crash in 5 minutes outpost dev gives up, stops all, exits 1', async () => {
  const stack = await startDevStack(240_000, ['--no-location']);
  try {
    const agentPid = (): number | undefined => componentPid('agent', stack);
    for (let crash = 1; crash <= 5; crash++) {
      const pid = await until('an agent', () => agentPid());
      process.kill(pid, 'SIGKILL');
      if (crash < 5) await until(`restart ${crash}`, () => ((agentPid() ?? pid) !== pid ? true : undefined), 60_000);
    }
    const code = await stack.exited;
    assert.equal(code, 1);
    const said = stack.output.filter((l) => l.includes('agent exited (signal SIGKILL)'));
    assert.deepEqual(
      said.map((l) => l.replace(/^.*agent exited/, 'agent exited')),
      [
        'agent exited (signal SIGKILL); restarting in 1s (attempt 2/5)',
        'agent exited (signal SIGKILL); restarting in 2s (attempt 3/5)',
        'agent exited (signal SIGKILL); restarting in 4s (attempt 4/5)',
        'agent exited (signal SIGKILL); restarting in 8s (attempt 5/5)',
        'agent exited (signal SIGKILL); it failed 5 times within 5m, giving up',
      ],
    );
    assert.ok(stack.output.some((l) => l.includes('stopped')));
    assert.deepEqual(processesOfDir(stack.dataDir), [], 'no process of the data dir is left');
  } finally {
    await stack.stop();
  }
});
