// A warm standby run worker (`outpost api run-worker-standby`): pays for process start, tsx and
// importing the location before any run exists, so a launch only hands it a run id. The agent
// keeps one per code location version (src/agent/launchers/standby-pool.ts); the protocol is in
// src/shared/standby-protocol.ts. Once a run is accepted this is `runWorker`, unchanged: same
// events, spool, signals and exit codes as `execute-run`.
import {
  claimHandoff,
  isStandbyRunMessage,
  type StandbyMessage,
  type StandbyRunMessage,
} from '../../shared/standby-protocol.js';
import { EXIT, runWorker } from './run-worker.js';
import { stripCredentials } from '../common/strip-credentials.js';

export interface StandbyOptions {
  module: string;
  maxConcurrency?: number;
  graceMs?: number;
}

/** Waits for one run and executes it; resolves with the exit code (0 when none came). */
export async function runStandby(opts: StandbyOptions): Promise<number> {
  stripCredentials();
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write('run-worker-standby: must be started by the agent with an IPC channel\n');
    return EXIT.usage;
  }
  const [{ loadLocation, DEFAULT_LOAD_TIMEOUT_MS }] = await Promise.all([
    import('../common/load-location.js'),
    import('./run-executor.js'),
  ]);
  const preloaded = loadLocation(opts.module, DEFAULT_LOAD_TIMEOUT_MS, { inlinePackages: true });
  const loadError = await preloaded.then(
    () => undefined,
    (err: unknown) => String((err as Error)?.message ?? err),
  );

  const run = await new Promise<StandbyRunMessage | undefined>((resolve) => {
    const onMessage = (m: unknown): void => {
      if (!isStandbyRunMessage(m)) return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    // The agent went away (or retired us) before handing over a run: nothing ran.
    process.once('disconnect', () => resolve(undefined));
    const ready: StandbyMessage = loadError ? { type: 'ready', loadError } : { type: 'ready' };
    send(ready);
  });
  if (!run) return EXIT.success;
  // An agent that gave up on us (handoff timeout, crash recovery) claimed the run first and is
  // about to kill us and spawn it cold: write nothing. A spool we cannot reach is runWorker's
  // to report.
  let claim: ReturnType<typeof claimHandoff> | 'unusable';
  try {
    claim = claimHandoff(run.spoolDir, 'standby');
  } catch {
    claim = 'unusable';
  }
  if (claim === 'taken') {
    if (process.connected) process.disconnect();
    return EXIT.success;
  }

  process.env.OUTPOST_RUN_ID = run.runId;
  // runWorker writes RUN_START synchronously before its first await, so by the time the agent
  // reads `accepted` the run is in the spool (its crash recovery relies on that order).
  const done = runWorker({
    runId: run.runId,
    module: opts.module,
    job: run.job,
    runConfig: run.runConfig,
    spoolDir: run.spoolDir,
    preloaded,
    ...(opts.maxConcurrency !== undefined ? { maxConcurrency: opts.maxConcurrency } : {}),
    ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
  });
  const accepted: StandbyMessage = { type: 'accepted', runId: run.runId };
  // From here on the run must not depend on the agent: close the channel once the answer is out.
  send(accepted, undefined, {}, () => process.disconnect());
  return done;
}
