// Warm path: the run goes to a ready standby (standby-pool.ts) instead of a new process. Same
// files, same order as a cold spawn: intent.json (naming the standby), the standby's spool
// moved into the run, the run sent over IPC and acknowledged, then spawns.log + process.json.
// A standby acknowledges only after it has written RUN_START, so recovery.ts can tell a standby
// that took the run from one that never did.
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { isStandbyMessage, type StandbyRunMessage } from '../../shared/standby-protocol.js';
import type { LaunchHandle, RunLaunchSpec } from './launcher.js';
import type { LaunchContext } from './launch-context.js';
import {
  configFileOf,
  forgetStandbyProcess,
  recordRunProcess,
  runDir,
  spoolHasEvents,
  spoolOf,
  writeAtomic,
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
export async function handOff(
  ctx: LaunchContext,
  spec: RunLaunchSpec,
  sb: Standby,
  configFile: string,
): Promise<LaunchHandle | undefined> {
  const dir = runDir(ctx.dataDir, spec.runId);
  const spool = spoolOf(dir);
  const intent: IntentRecord = {
    runId: spec.runId,
    at: Date.now(),
    standby: { pid: sb.pid, startTime: sb.startTime },
  };
  writeIntent(dir, intent);
  // A sandboxed standby sees only its own directory: the config goes there, and its spool
  // stays reachable at a fixed path inside (a bind mount follows the directory we rename).
  const sandboxed = ctx.isolation.kind !== 'none';
  const inbox = { configFile: configFileOf(sb.dir), spoolDir: standbySpoolInside(ctx.dataDir) };
  if (sandboxed) writeAtomic(inbox.configFile, readFileSync(configFile, 'utf8'));
  renameSync(spoolOf(sb.dir), spool);
  // From here it is the run's worker, recorded by the run (intent now, process.json once it
  // accepts): never again an idle standby to clean up, even while its directory stays.
  forgetStandbyProcess(sb.dir);
  if (!sandboxed) rmSync(sb.dir, { recursive: true, force: true });
  else sb.child.once('exit', () => rmSync(sb.dir, { recursive: true, force: true }));
  // Watch before sending, so an exit during the handoff is never missed.
  ctx.watch(spec.runId, sb.child);
  const message: StandbyRunMessage = {
    type: 'run',
    runId: spec.runId,
    job: spec.job,
    ...(sandboxed ? inbox : { configFile, spoolDir: spool }),
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
  sb.child.unref();
  (sb.child.channel as { unref?: () => void } | undefined)?.unref?.();
  if (!accepted) {
    // Whatever state it is in, it must not run this run later: kill it before deciding.
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
