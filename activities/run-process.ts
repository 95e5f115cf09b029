// Host-local run activities: launch (idempotent: adopt before spawn), supervise (the one that
// ships the spool, until the process is gone), terminate (SIGTERM the group, grace, SIGKILL).
// They run on the agent's own task queue, because the process and its spool exist only on
// this host.
import { Context, CancelledFailure } from '@temporalio/activity';
import { sleep } from '../src/shared/backoff.js';
import { OutpostError, errorLogFields, isOutpostError } from '../src/shared/errors.js';
import { SPOOL_FULL_EXIT_CODE } from '../src/shared/run-spool.js';
import { isTerminalRunStatus, type RunStatus } from '../src/shared/run-status.js';
import type { WorkItemPayload } from '../src/shared/work-items.js';
import { endRunWithEvents, type RunEnding } from './end-run.js';
import { coded, toFailure } from './failures.js';
import { holdFirstHeartbeats, type HeartbeatContext } from './first-heartbeat.js';
import { launchSpecOf } from './launch-spec.js';
import { LaunchBoard, type Launched } from './launch-board.js';
import { ShipAhead } from './ship-ahead.js';
import type { ActivityDeps, LaunchHandle, RunCursor, RunSpool, SuperviseOptions, SuperviseResult } from './ports.js';
import { SpoolWriterStop, UNSUPERVISED_GRACE_MS, UnsupervisedRuns } from './unsupervised-runs.js';

/** Most spool events a launch sends with its report (the rest are supervision's). */
const FIRST_EVENTS_MAX = 100;

/** How often launchRun heartbeats while it works (its heartbeat timeout is 15 s). */
const LAUNCH_HEARTBEAT_MS = 3_000;

/** What supervision needs of its activity: none when the agent supervises a run itself. */
type SuperviseContext = HeartbeatContext;

/** The activity a launch runs in: a local one has no heartbeat (the SDK keeps its task alive). */
interface LaunchActivity {
  isLocal: boolean;
  heartbeat: () => void;
}

/** The agent supervising a run itself (unsupervised-runs.ts): no heartbeats, never cancelled. */
const DETACHED: SuperviseContext = { heartbeat: () => undefined, cancellationSignal: new AbortController().signal };

export type LaunchOutcome = { launched: LaunchHandle } | { skipped: RunStatus };

/** launchRunHere's answer: the launch's outcome, or `elsewhere` when this is not the run's host. */
export type LocalLaunchOutcome = LaunchOutcome | { elsewhere: true };

export type { SuperviseOptions, SuperviseResult } from './ports.js';

export function createRunProcessActivities(deps: ActivityDeps) {
  const now = deps.clock ?? Date.now;
  const pollMs = deps.supervisePollMs ?? 250;
  const idleMs = Math.max(pollMs, deps.superviseIdleMs ?? 2_000);
  const board = new LaunchBoard();
  /** Launches under way in this process, by run: a termination waits for its run's (terminateProcess). */
  const launchesHere = new Map<string, Promise<unknown>>();
  const ahead = new ShipAhead({ ...deps, pollMs, idleMs, settled: (runId) => deps.launcher.launchSettled?.(runId) });

  /** Whether a worker for the run wrote events into its spool on this host. */
  function ranHere(runId: string): boolean {
    return deps.spool.eventLinesAfter(runId, 0, 1) !== '';
  }

  const endRun = (ending: RunEnding) => endRunWithEvents(deps, now, ending);

  /** Adopts or spawns the run's worker and reports it; never ships (superviseRun does). */
  async function launch(
    payload: WorkItemPayload<'LAUNCH_RUN'>,
  ): Promise<{ launched: LaunchHandle; posted: NonNullable<Launched> } | { skipped: RunStatus }> {
    const log = deps.logger.child({ runId: payload.runId });
    let existing = await deps.launcher.adopt(payload.runId);
    let cursor: RunCursor | undefined;
    // Its workflow asked to stop it (runWorkflowV4's terminateProcess may come before the launch):
    // none is started; one a launch cut short here started (agent killed before its record) is
    // found, stopped and supervised.
    if (!existing && deps.launcher.terminationRequested?.(payload.runId) && !ranHere(payload.runId)) {
      existing = await deps.launcher.recoverLaunch?.(payload.runId);
      if (existing) await deps.launcher.requestTermination(payload.runId);
      else return { skipped: 'CANCELING' } as const;
    }
    if (!existing) {
      // A run terminated (or otherwise ended) before launch is never started. The cursor asked
      // for when this agent claimed the launch, if fresh, saves the launch a round trip.
      cursor =
        (await deps.prefetchedCursor?.(payload.runId)) ??
        (await deps.controlPlane.runCursor(deps.agentId(), payload.runId));
      // Not when a worker already wrote events here (its record lost with a killed agent): the
      // launcher adopts it (recovery.ts) and supervision drains and stops it.
      const stopped = (cursor.status === 'CANCELING' && !ranHere(payload.runId)) || isTerminalRunStatus(cursor.status);
      if (stopped) existing = await deps.launcher.recoverLaunch?.(payload.runId);
      if (stopped && !existing) {
        log.info({ status: cursor.status }, 'run not launched: it was stopped first');
        return { skipped: cursor.status } as const;
      }
    }
    const handle = existing ?? (await deps.launcher.launch(await launchSpecOf(deps.workspace, payload)));
    const info = {
      launcher: handle.launcher,
      ref: handle.ref,
      adopted: handle.adopted,
      hostTaskQueue: deps.hostTaskQueue,
    };
    // A fresh worker's first events (a warm one wrote RUN_START before it accepted the run) go
    // with the report: one round trip stores both, and supervision ships on from the answer.
    const lines =
      cursor && !existing ? deps.spool.eventLinesAfter(payload.runId, cursor.lastSeq, FIRST_EVENTS_MAX) : '';
    let after: RunCursor | undefined;
    try {
      after = await deps.controlPlane.reportRunLaunchedWithEvents(deps.agentId(), payload.runId, info, lines);
    } catch (err) {
      // Already past STARTING (the worker raced ahead, or this is a retry): nothing to do.
      if (!isOutpostError(err, 'ILLEGAL_RUN_TRANSITION')) throw err;
    }
    // Its first events are stored: the launch is off the hot path (the standby refill may start).
    if (after && lines) deps.launcher.launchSettled?.(payload.runId);
    log.info({ ref: handle.ref, adopted: handle.adopted }, 'run launched');
    // The cursor read just before a fresh launch, or the report's answer after it, is where its
    // spool ships from (appends are idempotent by seq and offset, so an older cursor is only
    // ever a repeat).
    const from = after ?? cursor;
    return { launched: handle, posted: from && !existing ? { cursor: from } : {} };
  }

  /**
   * Waits for the launch scheduled with this supervision. The launch normally runs in this
   * process and posts its outcome on the board; after an agent restart the outcome is read
   * from what is stored instead: a reported launch (status past QUEUED) and a recorded worker
   * mean it ran, a stopped run without a worker means it never will.
   */
  async function awaitLaunch(runId: string, ctx: SuperviseContext): Promise<Launched> {
    const posted = board.wait(runId);
    try {
      for (;;) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('superviseRun cancelled');
        const timer = sleep(pollMs, ctx.cancellationSignal).then(() => 'waiting' as const);
        const outcome = await Promise.race([posted, timer]);
        if (outcome !== 'waiting') return outcome;
        ctx.heartbeat();
        if (board.inFlight.has(runId)) continue;
        const stored = await deps.controlPlane.runCursor(deps.agentId(), runId);
        if (stored.status === 'QUEUED') continue;
        if (await deps.launcher.adopt(runId)) return {};
        // The spool is the truth: a worker that wrote events here ran, recorded or not (an agent
        // killed mid-hand-off), so supervision drains it instead of reporting the run stopped.
        if (stored.status === 'CANCELING' && ranHere(runId)) return {};
        if (stored.status === 'CANCELING' || isTerminalRunStatus(stored.status)) return undefined;
      }
    } finally {
      board.take(runId);
    }
  }

  /** launchRun's body: an activity, local in the workflow task, or begun by the poller (no `ctx`). */
  async function launchAndPost(payload: WorkItemPayload<'LAUNCH_RUN'>, ctx?: LaunchActivity): Promise<LaunchOutcome> {
    // A launch may outlast the 15 s heartbeat timeout (a standby booting or taking the run on a
    // starved CPU): heartbeat, or Temporal retries it here while this attempt still runs. A local
    // activity has no heartbeat: its workflow task is kept alive by the SDK instead.
    const beat = !ctx || ctx.isLocal ? undefined : setInterval(() => ctx.heartbeat(), LAUNCH_HEARTBEAT_MS);
    board.inFlight.add(payload.runId);
    const launching = launch(payload);
    launchesHere.set(payload.runId, launching);
    try {
      const outcome = await launching;
      if ('launched' in outcome) unsupervised?.watch(payload.runId);
      // Its supervision's activity task may not exist yet: the spool ships from now on.
      const from = 'launched' in outcome ? outcome.posted.cursor : undefined;
      if (from) ahead.start(payload.runId, from);
      board.post(payload.runId, 'launched' in outcome ? outcome.posted : undefined);
      return 'launched' in outcome ? { launched: outcome.launched } : outcome;
    } catch (err) {
      const failure = toFailure(err);
      // Failed for good: the supervision scheduled with it has nothing to wait for. Not for a
      // launch begun ahead of its activity: that one launches again and posts what it finds.
      if (failure.nonRetryable && ctx) board.post(payload.runId, undefined);
      throw failure;
    } finally {
      clearInterval(beat);
      board.inFlight.delete(payload.runId);
      if (launchesHere.get(payload.runId) === launching) launchesHere.delete(payload.runId);
    }
  }

  deps.launchAhead?.serve((payload) => launchAndPost(payload));

  /**
   * The launch begun ahead of this activity for the run, if it succeeded; else launches now.
   * `beats`: where its heartbeats go (superviseRun's held ones), else the activity's own.
   */
  async function joinOrLaunch(
    payload: WorkItemPayload<'LAUNCH_RUN'>,
    beats?: HeartbeatContext,
  ): Promise<LaunchOutcome> {
    const current = Context.current();
    const ctx: LaunchActivity = { isLocal: current.info.isLocal, heartbeat: () => (beats ?? current).heartbeat() };
    const ahead = deps.launchAhead?.join(payload.runId);
    if (ahead) {
      // Joined while it still runs: heartbeat as launchAndPost would (a local activity has none).
      const beat = ctx.isLocal ? undefined : setInterval(() => ctx.heartbeat(), LAUNCH_HEARTBEAT_MS);
      const outcome = await ahead.finally(() => clearInterval(beat));
      if (outcome) return outcome;
    }
    return launchAndPost(payload, ctx);
  }

  /**
   * Tails and ships the spool until the worker has exited and everything is stored: superviseRun's
   * body, also run by the agent itself for a worker whose workflow is closed (DETACHED).
   */
  async function supervise(
    ctx: SuperviseContext,
    handle: LaunchHandle,
    opts: SuperviseOptions,
  ): Promise<SuperviseResult> {
    const runId = handle.runId;
    const log = deps.logger.child({ runId });
    let shipper: RunSpool | undefined;
    // From here on this supervision is the run's one shipper: a launch reporting now ships nothing ahead.
    const supervising = ahead.supervise(runId);
    // The run ended: its item is done (idempotent by id). Not a drain's: its workflow does that.
    const ended = async (status: RunStatus, lastSeq: number): Promise<SuperviseResult> => {
      if (!opts.completeWorkItem || opts.terminating) return { status, lastSeq };
      await deps.controlPlane.completeWork(deps.agentId(), opts.completeWorkItem, { status });
      return { status, lastSeq, itemCompleted: true };
    };
    try {
      let cursor: RunCursor | undefined;
      if (opts.launch) {
        // runWorkflowV4: the launch is this activity's first step (a retry adopts what it started).
        const outcome = await joinOrLaunch(opts.launch, ctx);
        if ('skipped' in outcome) {
          board.take(runId);
          if (outcome.skipped === 'CANCELING')
            await endRun({ runId, type: 'RUN_CANCELED', message: 'run terminated before it was launched' });
          const stored = await deps.controlPlane.runCursor(deps.agentId(), runId);
          return await ended(stored.status, stored.lastSeq);
        }
      }
      if (opts.withLaunch || opts.launch) {
        const launched = await awaitLaunch(runId, ctx);
        if (!launched) {
          const stored = await deps.controlPlane.runCursor(deps.agentId(), runId);
          return { status: stored.status, lastSeq: stored.lastSeq };
        }
        cursor = launched.cursor;
      }
      shipper =
        (await ahead.take(runId)) ??
        deps.spool.open(runId, cursor ?? (await deps.controlPlane.runCursor(deps.agentId(), runId)));
      // A worker this process watches wakes supervision when it exits: with the spool watched
      // too, nothing is left to poll for, so an idle run costs a pass every idleMs, not every
      // pollMs (CPU per run with hundreds supervised at once).
      const exited = deps.launcher.whenExited?.(runId);
      if (exited) shipper.wakeOn(exited);
      /** Set once the recorded process is gone while a process still writes the spool's events. */
      let orphans: SpoolWriterStop | undefined;
      for (;;) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('superviseRun cancelled');
        // Liveness first: whatever was written before we saw the exit is in the files now.
        let alive = await deps.launcher.isAlive(runId);
        // The spool is the truth: a worker still writing its events runs, whatever pid was
        // recorded (a sandbox's outer process dies of SIGTERM while the worker inside goes on).
        // Asked only when the agent might otherwise end the run itself: no terminal event in
        // what is there (its complete lines read first, so an ordinary end costs no /proc scan).
        if (!alive && !shipper.sawTerminalEvent) {
          for (let i = 0; i < 100_000 && (await shipper.shipOnce(false)); i++)
            ctx.heartbeat({ lastSeq: shipper.lastSeq });
        }
        const writers = !alive && !shipper.sawTerminalEvent ? shipper.writers() : [];
        if (writers.length) {
          alive = true;
          if (!orphans) {
            orphans = new SpoolWriterStop(now, log);
            log.warn(
              { writers },
              'the recorded run worker process is gone but a process still writes its events: supervising it until it exits',
            );
          }
        }
        if (alive && orphans) orphans.pass(shipper, opts.terminating === true);
        const progressed = await shipper.shipOnce(!alive);
        if (progressed) deps.launcher.launchSettled?.(runId);
        ctx.heartbeat({ lastSeq: shipper.lastSeq });
        if (!alive) {
          for (let i = 0; i < 100_000 && (await shipper.shipOnce(true)); i++)
            ctx.heartbeat({ lastSeq: shipper.lastSeq });
          break;
        }
        if (!progressed)
          await shipper.waitForWrite(exited && shipper.watching ? idleMs : pollMs, ctx.cancellationSignal);
      }
      if (shipper.sawTerminalEvent) {
        // The answer that stored the terminal event carried the run's status: no cursor call.
        if (shipper.endStatus) return await ended(shipper.endStatus, shipper.lastSeq);
        const final = await deps.controlPlane.runCursor(deps.agentId(), runId);
        return await ended(final.status, final.lastSeq);
      }
      const exit = deps.launcher.exitStatus(runId);
      const how =
        !exit || !exit.known
          ? 'exited while the agent was not watching (exit status unknown)'
          : exit.signal
            ? `was killed by ${exit.signal}`
            : `exited with code ${exit.code}`;
      // terminateProcess records the request on this host before signalling, so an attempt
      // started before it (or a retry after an agent restart) still ends the run CANCELED.
      const terminating = opts.terminating || shipper.terminationRecorded();
      const type = terminating ? 'RUN_CANCELED' : 'RUN_FAILURE';
      const full = terminating ? undefined : spoolFull(exit, shipper.space());
      const message = terminating
        ? `run terminated: the worker ${how}`
        : `the run worker ${how} without a terminal event${full ? `: ${full.message}. ${full.hint}` : ''}`;
      if (full) log.error({ exit, ...errorLogFields(full) }, 'the run worker could not write its spool: disk full');
      else log.warn({ exit }, message);
      const status = await endRun({
        runId,
        type,
        message,
        data: {
          exitCode: exit?.code ?? null,
          signal: exit?.signal ?? null,
          ...(full ? { code: full.code, spool: full.data } : {}),
        },
        afterSeq: shipper.maxSeqInFile,
        ...(full ? { code: 'RUN_SPOOL_DISK_FULL' as const } : {}),
      });
      return await ended(status, (await deps.controlPlane.runCursor(deps.agentId(), runId)).lastSeq);
    } catch (err) {
      if (err instanceof CancelledFailure) throw err;
      throw toFailure(err);
    } finally {
      supervising();
      shipper?.close();
    }
  }

  /** A run whose workflow is closed while its worker lives: terminated and supervised to its end here. */
  async function superviseToEnd(runId: string): Promise<SuperviseResult> {
    await deps.launcher.requestTermination(runId);
    const kill = setTimeout(() => void deps.launcher.signal(runId, 'SIGKILL'), UNSUPERVISED_GRACE_MS);
    try {
      return await supervise(DETACHED, { runId, launcher: '', ref: '', adopted: true }, { terminating: true });
    } finally {
      clearTimeout(kill);
    }
  }

  const unsupervised = deps.runWorkflowOpen
    ? new UnsupervisedRuns({
        workflowOpen: deps.runWorkflowOpen,
        isAlive: (runId) => deps.launcher.isAlive(runId),
        superviseToEnd,
        logger: deps.logger,
      })
    : undefined;
  // Workers recorded before this process started (a restart, a kill -9) are watched too.
  for (const runId of unsupervised ? (deps.launcher.recordedRuns?.() ?? []) : []) unsupervised?.watch(runId);

  return {
    /** Spawns the run worker, or adopts the one this host already launched. Never spawns twice. */
    launchRun(payload: WorkItemPayload<'LAUNCH_RUN'>): Promise<LaunchOutcome> {
      return joinOrLaunch(payload);
    },

    /**
     * launchRun as a local activity of the run workflow's first task, which the agent that
     * claimed the run runs (eager start): no activity task to schedule and match, and no workflow
     * task between the start and the launch. Only the host named by the workflow may launch:
     * anywhere else (the task went to another agent's worker, e.g. after this one died) it
     * answers `elsewhere`, and the workflow schedules launchRun on the host queue as before.
     */
    async launchRunHere(hostTaskQueue: string, payload: WorkItemPayload<'LAUNCH_RUN'>): Promise<LocalLaunchOutcome> {
      if (hostTaskQueue !== deps.hostTaskQueue) return { elsewhere: true };
      return joinOrLaunch(payload);
    },

    /**
     * Tails and ships the spool until the worker has exited and everything is stored.
     * Heartbeats every pass once its first seconds are over (first-heartbeat.ts); a retry (new
     * attempt, or a restarted agent) resumes from runCursor.
     */
    async superviseRun(handle: LaunchHandle, opts: SuperviseOptions = {}): Promise<SuperviseResult> {
      const ctx = Context.current();
      const done = unsupervised?.supervise(handle.runId);
      try {
        // Its first heartbeats are held back (first-heartbeat.ts): one Temporal call fewer per run.
        return await supervise(holdFirstHeartbeats(ctx, now), handle, opts);
      } finally {
        const why = ctx.cancellationDetails;
        done?.(why?.notFound ? 'workflow-gone' : why?.workerShutdown ? 'shutdown' : 'other');
      }
    },

    /** SIGTERM the worker's process group, wait `graceMs`, then SIGKILL whatever is left. */
    async terminateProcess(handle: LaunchHandle, graceMs: number): Promise<{ signaled: boolean; killed: boolean }> {
      const ctx = Context.current();
      const runId = handle.runId;
      // runWorkflowV4 launches inside supervision, so this may come before or during the launch:
      // recorded first, a launch that begins later starts no worker; one under way here is
      // waited for, so that its worker gets the SIGTERM.
      deps.launcher.recordTermination?.(runId);
      const under = launchesHere.get(runId);
      if (under) {
        const beat = setInterval(() => ctx.heartbeat(), LAUNCH_HEARTBEAT_MS);
        await under.catch(() => undefined).finally(() => clearInterval(beat));
      }
      const signaled = await deps.launcher.requestTermination(runId);
      if (!signaled) return { signaled: false, killed: false };
      deps.logger.info({ runId, graceMs }, 'sent SIGTERM to the run worker group');
      const deadline = now() + graceMs;
      while (now() < deadline && (await deps.launcher.isAlive(runId))) {
        ctx.heartbeat();
        await sleep(100);
      }
      // SIGKILL mops up the leader if it ignored SIGTERM and any children it left in the group.
      const killed = await deps.launcher.signal(runId, 'SIGKILL');
      if (killed) deps.logger.warn({ runId }, 'sent SIGKILL to the run worker group after the grace period');
      for (let i = 0; i < 100 && (await deps.launcher.isAlive(runId)); i++) await sleep(100);
      return { signaled, killed };
    },

    /** Ends a run that never got a worker (terminated before launch, or the launch failed). */
    endRunWithoutWorker(runId: string, type: 'RUN_FAILURE' | 'RUN_CANCELED', message: string): Promise<RunStatus> {
      return coded(() => endRun({ runId, type, message }));
    },
  };
}

/** Below this many free bytes a spool's filesystem counts as full (a worker's next flush would not fit). */
const SPOOL_FULL_BELOW_BYTES = 64 * 1024;

/**
 * Why a worker left no terminal event, when it is a full spool: the worker said so (its exit
 * code), or, its exit unknown or a plain exit code, the spool's filesystem has (next to) no room
 * left. A worker killed by a signal (the OOM killer, a crash) was not stopped by the disk.
 */
function spoolFull(
  exit: { code?: number | null; signal?: string | null } | undefined,
  space: { dir: string; free: number | undefined },
): OutpostError | undefined {
  if (exit?.signal) return undefined;
  const saidSo = exit?.code === SPOOL_FULL_EXIT_CODE;
  if (!saidSo && (space.free === undefined || space.free >= SPOOL_FULL_BELOW_BYTES)) return undefined;
  const free = space.free === undefined ? 'unknown' : `${space.free} bytes`;
  return new OutpostError('RUN_SPOOL_DISK_FULL', {
    detail: `${space.dir} (free now: ${free})`,
    data: { dir: space.dir, freeBytes: space.free ?? null },
  });
}
