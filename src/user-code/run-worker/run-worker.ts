// The run worker (`outpost api execute-run`): one run, in its own process. It writes RUN_START
// as soon as its spool is open, loads the location, validates the run config, executes the
// job, and ends with exactly one terminal event. It never talks to the control plane.
//
// Exit codes: 0 success · 1 run failed (op error, config violation, load error, unknown job) ·
// 2 usage error before any event (bad flags, spool unusable) · 3 the spool's filesystem is full
// (no terminal event could be written) · 143 canceled by SIGTERM ·
// 130 canceled by SIGINT.
import { existsSync, mkdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OutpostError } from '../../shared/errors.js';
import type { LocationDef } from '../sdk/definitions.js';
import {
  SPOOL_FILES,
  SPOOL_FULL_EXIT_CODE,
  TERMINAL_EVENT_TYPES,
  isDiskFull,
  serializeError,
} from '../../shared/run-spool.js';
import { EventSpool, type NewEvent } from './event-spool.js';
import { captureStdio } from './stdio-capture.js';
import { stripCredentials } from '../common/strip-credentials.js';

export interface RunWorkerOptions {
  runId: string;
  module: string;
  job: string;
  /** JSON file with the run config; `{}` when absent. */
  configFile?: string;
  /** The run config itself (a warm standby gets it in its run message); wins over configFile. */
  runConfig?: unknown;
  spoolDir: string;
  /** Ops to run; empty means all. */
  opSelection?: string[];
  /** Ops running at once. Default 4. */
  maxConcurrency?: number;
  /** Time ops get to stop after SIGTERM before the worker exits anyway. Default 5000. */
  graceMs?: number;
  /**
   * The location, already imported by a warm standby worker (see run-worker-standby.ts). A
   * rejected promise is the load error, reported as this run's failure like a cold load's.
   */
  preloaded?: Promise<LocationDef>;
}

export const EXIT = {
  success: 0,
  failure: 1,
  usage: 2,
  spoolFull: SPOOL_FULL_EXIT_CODE,
  sigint: 130,
  sigterm: 143,
} as const;

/**
 * The spool's filesystem is full: no event can be recorded, a terminal one included. Says so on
 * stderr (a few bytes may still fit) and exits with the code the agent reads (run-spool.ts).
 */
function spoolFull(err: Error): never {
  try {
    writeSync(2, `execute-run: the spool's filesystem is full (${err.message}); exiting ${EXIT.spoolFull}\n`);
  } catch {
    // No room for that either: the exit code says it.
  }
  process.exit(EXIT.spoolFull);
}

/** Runs the worker and resolves with the process exit code. */
export async function runWorker(opts: RunWorkerOptions): Promise<number> {
  stripCredentials();
  let spool: EventSpool;
  try {
    mkdirSync(opts.spoolDir, { recursive: true, mode: 0o700 });
    spool = new EventSpool(join(opts.spoolDir, SPOOL_FILES.events), spoolFull);
  } catch (err) {
    process.stderr.write(`execute-run: cannot open the spool in ${opts.spoolDir}: ${(err as Error).message}\n`);
    return isDiskFull(err) ? EXIT.spoolFull : EXIT.usage;
  }
  captureStdio(opts.spoolDir);
  // Output the op code wrote that its log file had no room for: the same full spool. Said when the
  // stream reports it (a turn later), and checked before the run's end, which may come first.
  const streams = [process.stdout, process.stderr];
  for (const stream of streams)
    stream.on('error', (err: Error) => {
      if (isDiskFull(err)) spoolFull(err);
      throw err;
    });
  const emit = (e: NewEvent): void => {
    if (TERMINAL_EVENT_TYPES.has(e.type))
      for (const stream of streams) if (isDiskFull(stream.errored)) spoolFull(stream.errored!);
    spool.append(e);
  };
  // Before RUN_START: a SIGTERM once the run is seen started must find its handler (the default
  // action would end the process with no terminal event).
  const abort = new AbortController();
  let cancelExit: number | undefined;
  const onSignal = (signal: 'SIGTERM' | 'SIGINT'): void => {
    if (cancelExit !== undefined) return;
    cancelExit = signal === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
    abort.abort(new DOMException(`run ${opts.runId} received ${signal}`, 'AbortError'));
    // Ops that ignore the signal do not hold the run hostage: after the grace period, end it.
    setTimeout(() => {
      emit({
        type: 'RUN_CANCELED',
        message: `Run canceled by ${signal}; ops did not stop within ${opts.graceMs ?? 5000} ms`,
        data: { signal, graceExpired: true },
      });
      spool.close();
      process.exit(cancelExit);
    }, opts.graceMs ?? 5000).unref();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  emit({
    type: 'RUN_START',
    message: `Started run ${opts.runId} of job ${opts.job}`,
    data: {
      job: opts.job,
      module: opts.module,
      pid: process.pid,
      opSelection: opts.opSelection ?? [],
      warm: opts.preloaded !== undefined,
    },
  });
  // Written now (the agent, and its crash recovery, read it as soon as the run is accepted);
  // made durable just after, off the launch path: a standby answers `accepted` in this tick,
  // and the fsync (ms, more on a busy disk) would otherwise hold that answer back.
  spool.syncSoon();

  /**
   * Whether the run is being stopped: the signal handled here, or the agent's record of the stop,
   * which it writes before it signals (so it is there even before the handler has run).
   */
  const stopping = (): boolean => cancelExit !== undefined || existsSync(join(opts.spoolDir, SPOOL_FILES.terminated));
  /**
   * A failure while the run is being stopped is the stop's doing: the SIGTERM to the worker's whole
   * group also kills what runs in it (tsx's esbuild service mid-import, an op's subprocess), and a
   * cleanup may throw. It ends the run RUN_CANCELED, the failure kept in its data; the exit code
   * is the signal's. Else RUN_FAILURE with exit code 1.
   */
  const endFailed = (failure: NewEvent & { type: 'RUN_FAILURE' }): number => {
    if (stopping()) {
      const signal = cancelExit === EXIT.sigint ? 'SIGINT' : 'SIGTERM';
      const { message, error, data } = failure;
      emit({
        type: 'RUN_CANCELED',
        message: `Run canceled (while it stopped: ${message})`,
        data: { signal, failure: { message, error, data } },
      });
      spool.close();
      return cancelExit ?? EXIT.sigterm;
    }
    emit(failure);
    spool.close();
    return EXIT.failure;
  };
  // An error escaping user code (a throwing timer, an unhandled rejection) would kill the process
  // without a terminal event; end the run with it instead.
  const onStray = (err: unknown): void => {
    process.exit(
      endFailed({
        type: 'RUN_FAILURE',
        message: `Uncaught error in user code: ${String((err as Error)?.message ?? err)}`,
        error: serializeError(err),
        data: { uncaught: true },
      }),
    );
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);

  try {
    const outcome = await execute(opts, emit, () => spool.sync(), abort.signal);
    if (abort.signal.aborted || outcome.status === 'canceled') {
      emit({
        type: 'RUN_CANCELED',
        message: 'Run canceled',
        data: { signal: cancelExit === EXIT.sigint ? 'SIGINT' : 'SIGTERM' },
      });
      spool.close();
      return cancelExit ?? EXIT.sigterm;
    }
    if (outcome.status === 'success') {
      emit({ type: 'RUN_SUCCESS', message: `Run ${opts.runId} succeeded` });
      spool.close();
      return EXIT.success;
    }
    // The group's SIGTERM may fail what waited on a process it killed before this process's own
    // handler has run (their callbacks come in one turn of the loop, in either order): a turn first.
    await new Promise((resolve) => setImmediate(resolve));
    return endFailed({
      type: 'RUN_FAILURE',
      message: outcome.message,
      error: outcome.error,
      ...(outcome.data ? { data: outcome.data } : {}),
    });
  } catch (err) {
    // A bug in the worker itself (or an import failed: see above): still end the run with a terminal event.
    await new Promise((resolve) => setImmediate(resolve));
    return endFailed({
      type: 'RUN_FAILURE',
      message: `Run worker error: ${(err as Error).message}`,
      error: serializeError(err),
    });
  }
}

type Outcome =
  | { status: 'success' }
  | { status: 'canceled' }
  | { status: 'failure'; message: string; error: ReturnType<typeof serializeError>; data?: Record<string, unknown> };

async function execute(
  opts: RunWorkerOptions,
  emit: (e: NewEvent) => void,
  checkpoint: () => void,
  signal: AbortSignal,
): Promise<Outcome> {
  const fail = (err: unknown, data?: Record<string, unknown>): Outcome => ({
    status: 'failure',
    message: (err as Error).message ?? String(err),
    error: serializeError(err),
    data: { ...(err instanceof OutpostError ? { code: err.code } : {}), ...data },
  });
  // Loaded here, after RUN_START, so the event is written before the heavier imports.
  const [{ loadLocation, DEFAULT_LOAD_TIMEOUT_MS }, { executeJob }] = await Promise.all([
    import('../common/load-location.js'),
    import('./run-executor.js'),
  ]);

  let runConfig: unknown = opts.runConfig ?? {};
  if (opts.runConfig === undefined && opts.configFile) {
    try {
      runConfig = JSON.parse(readFileSync(opts.configFile, 'utf8'));
    } catch (err) {
      return fail(
        new OutpostError('INVALID_ARGUMENT', { detail: `--config-file ${opts.configFile}: ${(err as Error).message}` }),
      );
    }
  }
  let location;
  try {
    location = await (opts.preloaded ?? loadLocation(opts.module, DEFAULT_LOAD_TIMEOUT_MS, { inlinePackages: true }));
  } catch (err) {
    const wrapped =
      err instanceof OutpostError
        ? err
        : new OutpostError('USER_CODE_LOAD_FAILED', { detail: (err as Error).message, cause: err });
    return fail(wrapped, { userError: serializeError(err) });
  }
  const job = location.jobs.find((j) => j.name === opts.job);
  if (!job) {
    return fail(
      new OutpostError('UNKNOWN_JOB', {
        detail: `${opts.job} (jobs in ${opts.module}: ${location.jobs.map((j) => j.name).join(', ')})`,
      }),
    );
  }
  if (job.config) {
    const checked = await job.config.check(runConfig);
    if (!checked.ok) {
      return fail(new OutpostError('CONFIG_SCHEMA_VIOLATION', { detail: checked.issues.join('; ') }), {
        issues: checked.issues,
      });
    }
    runConfig = checked.value;
  }
  if (signal.aborted) return { status: 'canceled' };
  let outcome;
  try {
    outcome = await executeJob({
      runId: opts.runId,
      job,
      runConfig,
      opSelection: opts.opSelection ?? [],
      maxConcurrency: Math.max(1, opts.maxConcurrency ?? 4),
      signal,
      emit,
      checkpoint,
    });
  } catch (err) {
    return fail(err); // an invalid op selection
  }
  if (outcome.status !== 'failure') return outcome;
  return {
    status: 'failure',
    message: `Run failed: step${outcome.failedSteps.length > 1 ? 's' : ''} ${outcome.failedSteps.join(', ')} failed`,
    error: outcome.error,
    data: { failedSteps: outcome.failedSteps },
  };
}
