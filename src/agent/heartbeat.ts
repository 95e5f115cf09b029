// Starts the agent's heartbeat thread (heartbeat-thread.mjs) and feeds it the agent's status.
// Beats go out from that thread on their own timer, so a main thread starved of CPU (or busy)
// delays only how fresh the reported status is, not whether the agent looks alive.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/logger.js';
import { agentEndpoint, type CodeServerStatusReport } from './control-plane-client.js';

/** The agent API's HeartbeatInput (the thread sends it as is). */
export interface HeartbeatInput {
  agentId: string;
  codeServers: CodeServerStatusReport[];
  runningRunIds: string[];
}

export interface HeartbeatOptions {
  /** Control-plane base URL. */
  url: string;
  /** Agent token: handed to the thread in memory, never logged. */
  token: string;
  intervalMs: number;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** The status to report; read on the main thread once per interval. */
  state: () => HeartbeatInput;
  logger: Logger;
  /** Called when a beat got through (the control plane answers). Default: none. */
  onBeat?: () => void;
}

export interface Heartbeat {
  /** Posts the current status to the thread now (e.g. right after it changed). */
  refresh(): void;
  stop(): Promise<void>;
}

const THREAD = new URL('./heartbeat-thread.mjs', import.meta.url);

export function startHeartbeat(opts: HeartbeatOptions): Heartbeat {
  const worker = new Worker(THREAD, {
    workerData: {
      endpoint: agentEndpoint(opts.url),
      token: opts.token,
      intervalMs: opts.intervalMs,
      timeoutMs: opts.timeoutMs ?? 10_000,
      input: opts.state(),
    },
    // No tsx in the thread (plain JS), and nothing of the agent's flags.
    execArgv: [],
  });
  worker.unref();
  let failing = false;
  worker.on('message', (m: { type?: string; ok?: boolean; message?: string }) => {
    if (m.type !== 'beat') return;
    if (!m.ok) opts.logger.warn({ err: m.message }, 'heartbeat failed');
    else {
      if (failing) opts.logger.info('heartbeats are getting through again');
      opts.onBeat?.();
    }
    failing = m.ok === false;
  });
  worker.on('error', (err) => opts.logger.error({ err: err.message }, 'heartbeat thread failed'));
  const post = (): void => worker.postMessage({ type: 'state', input: opts.state() });
  const timer = setInterval(post, opts.intervalMs);
  timer.unref();
  return {
    refresh: post,
    async stop() {
      clearInterval(timer);
      worker.postMessage({ type: 'stop' });
      await worker.terminate();
    },
  };
}
