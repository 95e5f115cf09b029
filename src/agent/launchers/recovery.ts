// The crash window: intent.json written, no process.json (the agent died between deciding to
// start a worker and recording it). Finds the worker instead of spawning a second: a standby
// named by the intent that took the run; else the worker by its command line in /proc (record
// and adopt it); else, if its spool shows it already ran, the finished run. Only if there is no
// trace at all does the launcher spawn.
import { claimHandoff, handoffClaimant } from '../../shared/standby-protocol.js';
import type { LaunchHandle } from './launcher.js';
import type { LaunchContext } from './launch-context.js';
import { findProcessByArgs, isSameLiveProcess, readProcStat } from './proc.js';
import { readIntent, recordRunProcess, runDir, spoolHasEvents, spoolOf, type ProcessRecord } from './run-records.js';
import { preferSandboxRoot } from './sandbox.js';

/** How Outpost's own run worker (`outpost api execute-run --run-id <id>`) reads in /proc. */
export const outpostWorkerMatch = (runId: string): string[] => ['execute-run', '--run-id', runId];

/** After an agent crash, how long a named standby gets to show it took the run (or exit). */
const RECOVER_STANDBY_WAIT_MS = 5_000;

export async function recover(ctx: LaunchContext, runId: string): Promise<LaunchHandle | undefined> {
  const dir = runDir(ctx.dataDir, runId);
  const intent = readIntent(dir);
  if (intent?.standby) {
    const found = await recoverStandby(ctx, runId, intent.standby);
    if (found) return found;
  }
  // The intent names how its worker reads in /proc (a Dagster worker's argv differs from ours).
  const pid = findProcessByArgs(intent?.match ?? outpostWorkerMatch(runId), preferSandboxRoot);
  if (pid !== undefined) {
    const stat = readProcStat(pid);
    const rec: ProcessRecord = {
      pid,
      startTime: stat?.startTime ?? -1,
      pgid: stat?.pgrp ?? pid,
      spawnedAt: Date.now(),
      recovered: true,
      ...(intent?.sigtermTo ? { sigtermTo: intent.sigtermTo } : {}),
    };
    // The spawn happened (in the crashed attempt) but was never logged: log it now, once.
    recordRunProcess(dir, rec);
    ctx.logger.warn({ runId, pid }, 'adopted a run worker found after a crash between spawn and record');
    return { runId, launcher: ctx.kind, ref: `pid ${pid}`, adopted: true };
  }
  if (spoolHasEvents(spoolOf(dir))) {
    // It ran and has already exited: supervise will ship what it wrote.
    const rec: ProcessRecord = { pid: -1, startTime: -1, pgid: -1, spawnedAt: Date.now(), recovered: true };
    recordRunProcess(dir, rec);
    ctx.logger.warn({ runId }, 'run worker already exited before its launch was recorded; adopting its spool');
    return { runId, launcher: ctx.kind, ref: 'exited before record', adopted: true };
  }
  return undefined;
}

/**
 * The crashed agent was handing this run to a standby. A standby that took it has claimed
 * it and written RUN_START; one that did not exits when it notices its channel closed. Wait
 * (bounded) to see which; if still undecided then, the claim decides (standby-protocol.ts),
 * so a deadline that expires under load never kills a run that has started.
 */
async function recoverStandby(
  ctx: LaunchContext,
  runId: string,
  sb: { pid: number; startTime: number },
): Promise<LaunchHandle | undefined> {
  const dir = runDir(ctx.dataDir, runId);
  const spool = spoolOf(dir);
  // An earlier agent may have claimed it already (and died before spawning): then the
  // standby can never run it either.
  const decided = (): boolean => spoolHasEvents(spool) || handoffClaimant(spool) !== undefined;
  let alive = isSameLiveProcess(sb.pid, sb.startTime);
  for (let waited = 0; alive && !decided() && waited < RECOVER_STANDBY_WAIT_MS; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
    alive = isSameLiveProcess(sb.pid, sb.startTime);
  }
  if (alive && !spoolHasEvents(spool)) {
    // Still undecided: claim the run. Lost, the standby claimed it first and is starting it
    // (only slowly, e.g. on a starved CPU): adopt it. Won (or an earlier agent won), it can
    // never start it: kill it.
    if (handoffClaimant(spool) === undefined) claimHandoff(spool, 'agent');
    if (handoffClaimant(spool) !== 'standby') {
      try {
        process.kill(-sb.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      alive = false;
    }
  }
  if (!alive) return undefined; // the events check in recover() decides: adopt its spool or spawn
  const rec: ProcessRecord = {
    pid: sb.pid,
    startTime: sb.startTime,
    pgid: sb.pid,
    spawnedAt: Date.now(),
    recovered: true,
    warm: true,
  };
  recordRunProcess(dir, rec);
  ctx.logger.warn({ runId, pid: sb.pid }, 'adopted a warm run worker found after a crash during its handoff');
  return { runId, launcher: ctx.kind, ref: `pid ${sb.pid} (warm)`, adopted: true };
}
