// `outpost api ...`: commands the agent runs, not people. `execute-run` executes one run in this
// process (see src/user-code/run-worker/run-worker.ts for events, stdio and exit codes).
import type { Command } from 'commander';

export interface ExecuteRunFlags {
  runId: string;
  module: string;
  job: string;
  configFile?: string;
  spoolDir: string;
  ops?: string;
  maxConcurrency: string;
  graceMs: string;
}

export interface StandbyFlags {
  module: string;
  maxConcurrency: string;
  graceMs: string;
}

/** The defaults of --max-concurrency and --grace-ms (also src/cli/worker-main.ts's). */
export const WORKER_DEFAULTS = { maxConcurrency: '4', graceMs: '5000' } as const;

/** --max-concurrency and --grace-ms, checked; a bad value exits 2 before any event is written. */
function workerLimits(
  command: string,
  flags: { maxConcurrency: string; graceMs: string },
): { maxConcurrency: number; graceMs: number } {
  const maxConcurrency = Number(flags.maxConcurrency);
  const graceMs = Number(flags.graceMs);
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || !Number.isFinite(graceMs) || graceMs < 0) {
    process.stderr.write(`${command}: --max-concurrency must be a positive integer and --grace-ms >= 0\n`);
    process.exit(2);
  }
  return { maxConcurrency, graceMs };
}

export function registerApiCommand(program: Command): void {
  const api = program.command('api').description('Internal commands the agent spawns');
  api
    .command('execute-run')
    .description('Execute one run of a job, writing events and logs to a spool directory')
    .requiredOption('--run-id <id>', 'the run id')
    .requiredOption('--module <path>', 'the definitions module (TypeScript or JS)')
    .requiredOption('--job <name>', 'the job to run')
    .option('--config-file <path>', 'JSON run config (default: {})')
    .requiredOption('--spool-dir <dir>', 'where events.jsonl, stdout.log and stderr.log go')
    .option('--ops <names>', 'comma-separated op subset (default: every op)')
    .option('--max-concurrency <n>', 'independent ops run at once', WORKER_DEFAULTS.maxConcurrency)
    .option(
      '--grace-ms <ms>',
      'after SIGTERM, how long ops get to stop before the worker exits',
      WORKER_DEFAULTS.graceMs,
    )
    .addHelpText(
      'after',
      `
Events: <spool-dir>/events.jsonl, one RunEvent per line, seq 1..N, fsynced at step boundaries.
Output: the op code's stdout/stderr go to <spool-dir>/stdout.log and stderr.log. Spawn with fd 1
and 2 opened on those files (children of ops inherit them); otherwise the worker redirects its
own process.stdout/process.stderr writes there.
Exit codes: 0 success, 1 run failed, 2 usage error (no events written), 143 SIGTERM, 130 SIGINT.`,
    )
    .action(executeRun);
  api
    .command('run-worker-standby')
    .description('Start a run worker ahead of time: import the location, then wait for one run from the agent')
    .requiredOption('--module <path>', 'the definitions module (TypeScript or JS)')
    .option('--max-concurrency <n>', 'independent ops run at once', WORKER_DEFAULTS.maxConcurrency)
    .option(
      '--grace-ms <ms>',
      'after SIGTERM, how long ops get to stop before the worker exits',
      WORKER_DEFAULTS.graceMs,
    )
    .addHelpText(
      'after',
      `
Only the agent starts this, with an IPC channel (see src/shared/standby-protocol.ts). It exits 0
without running anything if the channel closes before a run is handed over; after that it
behaves exactly like execute-run (same events, output files and exit codes).`,
    )
    .action(runWorkerStandby);
}

/** `api execute-run`: runs the worker and exits with its code. */
export async function executeRun(flags: ExecuteRunFlags): Promise<never> {
  // Imported lazily so other commands don't pay for it, and vice versa.
  const { runWorker } = await import('../../user-code/run-worker/run-worker.js');
  const { maxConcurrency, graceMs } = workerLimits('execute-run', flags);
  const code = await runWorker({
    runId: flags.runId,
    module: flags.module,
    job: flags.job,
    spoolDir: flags.spoolDir,
    maxConcurrency,
    graceMs,
    ...(flags.configFile ? { configFile: flags.configFile } : {}),
    ...(flags.ops
      ? {
          opSelection: flags.ops
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : {}),
  });
  process.exit(code);
}

/** `api run-worker-standby`: waits for one run from the agent, runs it, exits with its code. */
export async function runWorkerStandby(flags: StandbyFlags): Promise<never> {
  const { runStandby } = await import('../../user-code/run-worker/run-worker-standby.js');
  const { maxConcurrency, graceMs } = workerLimits('run-worker-standby', flags);
  process.exit(await runStandby({ module: flags.module, maxConcurrency, graceMs }));
}
