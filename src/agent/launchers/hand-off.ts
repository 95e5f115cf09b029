// Warm path: the run goes to a ready standby (standby-pool.ts) instead of a new process. Same
// files, same order as a cold spawn: intent.json (naming the standby), the standby's spool
// moved into the run, the run sent over IPC and acknowledged, then spawns.log + process.json.
// A standby claims the run (a file in the spool that only one side can create) before it writes
// RUN_START and acknowledges after; an agent that stops waiting (timeout, crash recovery in
// recovery.ts) claims it before killing the standby, so exactly one of them ever runs it,
// whichever deadline expires under load.
import { renameSync, rmSync } from 'node:fs';
import { claimHandoff, isStandbyMessage, type StandbyRunMessage } from '../../shared/standby-protocol.js';
import type { LaunchHandle, RunLaunchSpec } from './launcher.js';
import type { LaunchContext } from './launch-context.js';
import { isSameLiveProcess } from './proc.js';
import {
  forgetStandbyProcess,
  recordRunProcess,
  runDir,
  spoolHasEvents,
  spoolOf,
  writeIntent,
  type IntentRecord,
  type ProcessRecord,
} from './run-records.js';
import { standbySpoolInside } from './sandbox.js';
import type { Standby } from './standby-pool.js';

/**
 * How long a standby gets to acknowledge a run before it is killed and the run spawns cold. It
 * is alive and booted, so only CPU starvation delays it: generous, a cold spawn would be slower.
 */
const HANDOFF_TIMEOUT_MS = 30_000;

/**
 * Hands the run to a ready standby. Returns undefined when it did not take it (it died, or
 * did not answer in time and was killed without writing anything): then spawn cold.
 */
export async function handOff(ctx: LaunchContext, spec: RunLaunchSpec, sb: Standby): Promise<LaunchHandle | undefined> {
  const dir = runDir(ctx.dataDir, spec.runId);
  const spool = spoolOf(dir);
  const intent: IntentRecord = {
    runId: spec.runId,
    at: Date.now(),
    standby: { pid: sb.pid, startTime: sb.startTime },
  };
  writeIntent(dir, intent);
  // The run config travels in the message (a file in the standby's directory could be wiped
  // by a restarting agent before the worker read it). A sandboxed standby keeps writing its
  // spool at a fixed path inside: its bind mount follows the directory we rename.
  const sandboxed = ctx.isolation.kind !== 'none';
  renameSync(spoolOf(sb.dir), spool);
  // From here it is the run's worker, recorded by the run (intent now, process.json once it
  // accepts): never again an idle standby to clean up.
  forgetStandbyProcess(sb.dir);
  // Watch before sending, so an exit during the handoff is never missed.
  ctx.watch(spec.runId, sb.child);
  const message: StandbyRunMessage = {
    type: 'run',
    runId: spec.runId,
    job: spec.job,
    runConfig: spec.runConfig,
    spoolDir: sandboxed ? standbySpoolInside(ctx.dataDir) : spool,
  };
  const accepted = await new Promise<boolean>((done) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      sb.child.off('message', onMessage);
      sb.child.off('exit', onExit);
      done(ok);
    };
    const onMessage = (m: unknown): void => {
      if (isStandbyMessage(m) && m.type === 'accepted' && m.runId === spec.runId) finish(true);
    };
    const onExit = (): void => finish(false);
    const timer = setTimeout(() => finish(false), HANDOFF_TIMEOUT_MS);
    sb.child.on('message', onMessage);
    sb.child.once('exit', onExit);
    sb.child.send(message, (err) => {
      if (err) finish(false);
    });
  });
  // What is left of its standby directory (its record went before the send) is cleanup, not
  // part of the hand-off: the launcher removes it once the launch is reported (off its path),
  // or here when the standby did not take the run.
  if (!accepted) rmSync(sb.dir, { recursive: true, force: true });
  sb.child.unref();
  (sb.child.channel as { unref?: () => void } | undefined)?.unref?.();
  // No answer in time: claim the run before killing. If the standby claimed it first, it is
  // running it (only slowly): keep it. Otherwise it can never start it, whatever it does next.
  if (!accepted && isSameLiveProcess(sb.pid, sb.startTime) && claimHandoff(spool, 'agent') === 'taken') {
    ctx.logger.warn({ runId: spec.runId, pid: sb.pid }, 'standby run worker took the run late; keeping it');
  } else if (!accepted) {
    try {
      process.kill(-sb.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    ctx.unwatch(spec.runId);
    if (!spoolHasEvents(spool)) {
      ctx.logger.warn({ runId: spec.runId, pid: sb.pid }, 'standby run worker did not take the run; spawning');
      return undefined;
    }
  }
  const rec: ProcessRecord = {
    pid: sb.pid,
    startTime: sb.startTime,
    pgid: sb.pid,
    spawnedAt: Date.now(),
    warm: true,
  };
  recordRunProcess(dir, rec);
  ctx.logger.info({ runId: spec.runId, pid: sb.pid }, 'handed run to a warm run worker');
  return { runId: spec.runId, launcher: ctx.kind, ref: `pid ${sb.pid} (warm)`, adopted: false };
}
