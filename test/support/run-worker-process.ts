// Runs `outpost api execute-run` as a real child process the way the agent does (stdout and
// stderr opened on the spool's log files), and reads back what it wrote.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunEventSchema, SPOOL_FILES, type RunEvent } from '../../src/shared/run-events.js';
import { CLI } from './code-server-process.js';
import { until } from './wait.js';

export interface WorkerRun {
  child: ChildProcess;
  spoolDir: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface WorkerRunOptions {
  module?: string;
  job: string;
  config?: unknown;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** 'files': fd 1/2 opened on the spool logs (the agent's way); 'pipe': run as if by hand. */
  stdio?: 'files' | 'pipe';
  /** Its own process group, as the agent starts it (signal it all with `process.kill(-pid)`). */
  detached?: boolean;
}

export function startWorker(opts: WorkerRunOptions): WorkerRun {
  const root = mkdtempSync(join(tmpdir(), 'outpost-run-'));
  const spoolDir = join(root, 'spool');
  mkdirSync(spoolDir);
  const args = [
    ...CLI,
    'api',
    'execute-run',
    '--run-id',
    'run_test',
    '--module',
    opts.module ?? 'examples/hello/definitions.ts',
    '--job',
    opts.job,
    '--spool-dir',
    spoolDir,
  ];
  if (opts.config !== undefined) {
    const file = join(root, 'config.json');
    writeFileSync(file, JSON.stringify(opts.config));
    args.push('--config-file', file);
  }
  args.push(...(opts.extraArgs ?? []));
  let stdio: ['ignore', number | 'pipe', number | 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const fds: number[] = [];
  if ((opts.stdio ?? 'files') === 'files') {
    fds.push(openSync(join(spoolDir, SPOOL_FILES.stdout), 'a'), openSync(join(spoolDir, SPOOL_FILES.stderr), 'a'));
    stdio = ['ignore', fds[0]!, fds[1]!];
  }
  const child = spawn(process.execPath, args, {
    stdio,
    env: { ...process.env, ...opts.env },
    detached: opts.detached ?? false,
  });
  for (const fd of fds) closeSync(fd);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, spoolDir, exit };
}

export function readEvents(spoolDir: string): RunEvent[] {
  const file = join(spoolDir, SPOOL_FILES.events);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => RunEventSchema.parse(JSON.parse(line)));
}

export const readLog = (spoolDir: string, stream: 'stdout' | 'stderr'): string => {
  const file = join(spoolDir, SPOOL_FILES[stream]);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
};

/** Polls (bounded) until `predicate` holds for the spool's events. */
export async function waitForEvents(spoolDir: string, predicate: (e: RunEvent[]) => boolean, timeoutMs = 20_000) {
  try {
    await until('spool events', () => predicate(readEvents(spoolDir)), timeoutMs, 25);
  } catch {
    throw new Error(`events did not arrive within ${timeoutMs} ms: ${JSON.stringify(readEvents(spoolDir))}`);
  }
}

/** `[type, stepKey]` pairs: the shape of a run, without timestamps. */
export const shape = (events: RunEvent[]): string[] =>
  events.map((e) => (e.stepKey ? `${e.type}:${e.stepKey}` : e.type));

export function assertContiguous(events: RunEvent[]): void {
  events.forEach((e, i) => {
    if (e.seq !== i + 1) throw new Error(`seq ${e.seq} at position ${i + 1}`);
  });
}
