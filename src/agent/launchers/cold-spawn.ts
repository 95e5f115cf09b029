// Cold path: a fresh run worker process for the run. Exactly one spawn per run, even across
// kill -9 of the agent at any instant:
//   1. write intent.json (we are about to spawn; it says how the worker reads in /proc);
//   2. spawn (synchronous: returns the pid);
//   3. append to spawns.log and write process.json {pid, startTime} (read from /proc).
// A crash between 1 and 3 is resolved by recovery.ts on the next launch. Before 1, the spawn
// waits for a boot slot (boot-slots.ts: at most N workers booting at once); nothing is on disk
// for it yet, so a crash while waiting is a launch that never began. What is spawned is a
// SpawnPlan: Outpost's `outpost api execute-run`, or for a Dagster location
// `dagster api execute_run` (dagster-run-command.ts); everything else is this one path.
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, resolve } from 'node:path';
import { OutpostError } from '../../shared/errors.js';
import { dagsterRunCommand } from '../dagster/dagster-run-command.js';
import { whenBooted } from './boot-slots.js';
import type { LaunchHandle, RunLaunchSpec } from './launcher.js';
import type { LaunchContext, SpawnPlan } from './launch-context.js';
import { spawnDetached } from './detached-spawn.js';
import { lowerPriority } from './priority.js';
import { readProcStat } from './proc.js';
import { outpostWorkerMatch } from './recovery.js';
import { recordRunProcess, runDir, spoolOf, writeIntent, type ProcessRecord } from './run-records.js';

/** Outpost's own worker: the CLI's `api execute-run` on the location's definitions module. */
function outpostRunCommand(ctx: LaunchContext, spec: RunLaunchSpec, configFile: string, spool: string): SpawnPlan {
  const cwd = spec.cwd ?? process.cwd();
  const module = resolve(cwd, spec.module);
  return {
    cmd: [
      ...ctx.cli,
      'api',
      'execute-run',
      '--run-id',
      spec.runId,
      '--module',
      module,
      '--job',
      spec.job,
      '--config-file',
      configFile,
      '--spool-dir',
      spool,
    ],
    place: { cwd, readable: [dirname(module)], internal: [configFile], writable: [spool] },
    extraEnv: { ...spec.env, OUTPOST_RUN_ID: spec.runId },
    match: outpostWorkerMatch(spec.runId),
  };
}

export async function spawnCold(ctx: LaunchContext, spec: RunLaunchSpec, configFile: string): Promise<LaunchHandle> {
  const release = await ctx.bootSlots.acquire();
  try {
    return await spawnBooting(ctx, spec, configFile, release);
  } catch (err) {
    release();
    throw err;
  }
}

/** The spawn itself, holding a boot slot that `release` gives back once the worker has booted. */
async function spawnBooting(
  ctx: LaunchContext,
  spec: RunLaunchSpec,
  configFile: string,
  release: () => void,
): Promise<LaunchHandle> {
  const dir = runDir(ctx.dataDir, spec.runId);
  const spool = spoolOf(dir);
  mkdirSync(spool, { recursive: true, mode: 0o700 });
  const plan = spec.dagster
    ? dagsterRunCommand(ctx.dataDir, dir, spool, spec, spec.dagster)
    : outpostRunCommand(ctx, spec, configFile, spool);
  writeIntent(dir, {
    runId: spec.runId,
    at: Date.now(),
    match: plan.match,
    ...(plan.sigtermTo ? { sigtermTo: plan.sigtermTo } : {}),
  });

  const child = spawnDetached({
    cmd: plan.cmd,
    isolation: ctx.isolation,
    place: plan.place,
    logDir: spool,
    baseEnv: ctx.env,
    extraEnv: plan.extraEnv,
    secrets: ctx.secrets,
    ...(ctx.nodeCa ? { nodeCa: ctx.nodeCa } : {}),
  });
  if (child.pid === undefined) {
    // Why comes as the 'error' event on the next tick (e.g. ENOENT for a missing cwd).
    const why = await Promise.race([once(child, 'error').then(([e]) => (e as Error).message), sleep(1_000)]);
    throw new OutpostError('RUN_WORKER_SPAWN_FAILED', {
      detail: `run ${spec.runId}: ${why ?? 'spawn returned no pid'} (working directory ${plan.place.cwd})`,
    });
  }
  // Read before any await: until the loop turns, our child is not reaped, so /proc still holds
  // its start time even if the whole tree has already ended (a quick job on a busy host).
  const spawned = readProcStat(child.pid);
  // Watch at once, so an exit while the sandbox's root is looked up is never missed.
  ctx.watch(spec.runId, child);
  void whenBooted(spool, new Promise((r) => child.once('exit', r))).then(release);
  // The process that stands for the worker's tree: itself, or its sandbox's pid 1.
  const pid = (await ctx.isolation.root(child.pid)) ?? child.pid;
  // Our child is what was read at spawn: once the loop has turned it may be reaped (a tree that
  // ended before its root was seen) and its pid another process's, never to be recorded or renice'd.
  const own = pid === child.pid;
  const reaped = child.exitCode !== null || child.signalCode !== null;
  if (ctx.nice && !(own && reaped))
    lowerPriority(pid, ctx.nice, (err) =>
      ctx.logger.warn({ runId: spec.runId, pid, err: err.message }, 'could not lower the run worker priority'),
    );
  const stat = own ? spawned : readProcStat(pid);
  const record: ProcessRecord = {
    pid,
    startTime: stat?.startTime ?? -1,
    pgid: stat?.pgrp ?? pid,
    spawnedAt: Date.now(),
    ...(plan.sigtermTo ? { sigtermTo: plan.sigtermTo } : {}),
  };
  recordRunProcess(dir, record);
  child.unref();
  ctx.logger.info({ runId: spec.runId, pid }, 'spawned run worker');
  return { runId: spec.runId, launcher: ctx.kind, ref: `pid ${pid}`, adopted: false };
}
