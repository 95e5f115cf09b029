// Starts and stops a real `temporal server start-dev` process: used by `outpost dev`,
// the test harness and the benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { OutpostError } from './errors.js';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from './search-attribute-names.js';
import { ensureTemporalCli } from './temporal-cli.js';
import { freePort } from './net.js';
import { describeNamespaceOk } from './temporal-ready.js';

export interface DevServerOptions {
  /** SQLite file for Temporal's state; omitted = in-memory (lost on exit). */
  dbFile?: string;
  /** Frontend gRPC port; default: a free port. */
  port?: number;
  /** Web UI port; default: none (headless). */
  uiPort?: number;
  /** Bind address; default 127.0.0.1. */
  ip?: string;
  /** Where the server's own output goes; default: discarded. */
  logFile?: string;
  /** How long to wait for readiness; default 60 s (2-core machines are slow to boot it). */
  readyTimeoutMs?: number;
  namespace?: string;
  /**
   * Own process group, so a terminal's Ctrl-C reaches only the caller, which stops it in its
   * turn (`outpost dev`: after the agent has drained). Killed if the caller exits first.
   */
  detached?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  namespace: string;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Flags that keep the dev server from calling home (there is no outbound network here). */
export const VERSION_CHECK_OFF = ['--dynamic-config-value', 'frontend.enableServerVersionCheck=false'];

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cli = await ensureTemporalCli();
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(ip));
  const namespace = opts.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), ...VERSION_CHECK_OFF, '--log-level', 'warn'];
  if (opts.uiPort !== undefined) args.push('--ui-port', String(opts.uiPort), '--ui-ip', ip);
  else args.push('--headless');
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const sa of SEARCH_ATTRIBUTE_REGISTRATIONS) args.push('--search-attribute', sa);

  const child = spawn(cli.path, args, {
    env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  if (opts.detached) {
    const killOnExit = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.on('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
  }
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    const out = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const address = `${ip}:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitReady(address, namespace, opts.readyTimeoutMs ?? 60_000, child);
  } catch (err) {
    await stop(2_000);
    throw err;
  }
  return {
    address,
    uiUrl: opts.uiPort !== undefined ? `http://${ip}:${opts.uiPort}` : undefined,
    namespace,
    process: child,
    stop,
  };
}

async function waitReady(address: string, namespace: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new OutpostError('TEMPORAL_START_FAILED', { detail: `the server exited with code ${child.exitCode}` });
    }
    try {
      await describeNamespaceOk(address, namespace, 2_000);
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new OutpostError('TEMPORAL_START_FAILED', {
    detail: `${address} not ready after ${timeoutMs} ms (${lastError instanceof Error ? lastError.message : String(lastError)})`,
  });
}
