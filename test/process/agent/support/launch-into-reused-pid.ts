// Run by process-launcher-pid-reuse.test.ts as pid 1 of a pid namespace of its own (unshare -Urpf
// --mount-proc): launches a cold run worker whose root lookup returns only once the worker has
// been reaped and its pid handed to another process (ns_last_pid picks the next pid, which only
// the namespace's owner may write). Prints what was recorded, what a restarted launcher sees and
// the other process's nice value (the launcher lowers its workers' priority by 5).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { resolve } from 'node:path';
import { ProcessLauncher } from '../../../../src/agent/launchers/process-launcher.js';
import { readProcStat } from '../../../../src/agent/launchers/proc.js';
import { readProcessRecord } from '../../../../src/agent/launchers/run-records.js';
import { noIsolation, type Isolation } from '../../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../../src/shared/logger.js';
import { until } from '../../../support/wait.js';

const dataDir = process.argv[2]!;
const logger = createLogger({ name: 'test', level: 'warn' });
let squatter: { pid: number; startTime: number; pgrp: number } | undefined;
const reusing: Isolation = {
  ...noIsolation,
  async root(childPid, timeoutMs) {
    await until('worker reaped', () => readProcStat(childPid) === undefined, 60_000, 2);
    // Another fork may take the pid first (a thread of ours is a task too): tried until one lands.
    for (let tries = 0; tries < 50 && !squatter; tries++) {
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(childPid - 1));
      const other = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
      const stat = other.pid === undefined ? undefined : readProcStat(other.pid);
      if (stat && other.pid === childPid) squatter = { pid: other.pid, startTime: stat.startTime, pgrp: stat.pgrp };
      else await new Promise((r) => other.once('exit', r).kill('SIGKILL'));
      other.unref();
    }
    return noIsolation.root(childPid, timeoutMs);
  },
};
const launcher = new ProcessLauncher({ dataDir, isolation: reusing, logger, nice: 5 });
const runId = 'run_pid_reused';
const handle = await launcher.launch({
  runId,
  location: 'hello',
  job: 'hello',
  runConfig: {},
  module: resolve('examples/hello/definitions.ts'),
});
const restarted = new ProcessLauncher({ dataDir, isolation: noIsolation, logger });
const out = {
  ref: handle.ref,
  record: readProcessRecord(restarted.runDir(runId)),
  squatter,
  aliveAfterRestart: await restarted.isAlive(runId),
  squatterNice: squatter ? getPriority(squatter.pid) : undefined,
};
if (squatter) process.kill(squatter.pid, 'SIGKILL');
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
