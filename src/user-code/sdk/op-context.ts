// What an op function receives: the run's identity and config, a structured logger whose
// lines become LOG events, an AbortSignal that fires on termination, and output metadata.
import type { LogLevel } from '../../shared/run-events.js';

export type LogFields = Record<string, unknown>;

/** `context.log.info('loaded rows', { rows: 42 })`: a LOG event with `data = { rows: 42 }`. */
export interface OpLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface OpContext<Cfg = unknown> {
  readonly runId: string;
  readonly jobName: string;
  readonly opName: string;
  /** The run config, parsed by the op's config schema (defaults applied) when it declares one. */
  readonly config: Cfg;
  readonly log: OpLogger;
  /** Fires when the run is terminated. Pass it to fetch, timers, child processes... */
  readonly signal: AbortSignal;
  /** Attach metadata to this op's output (shown on the STEP_OUTPUT event). Later keys win. */
  addOutputMetadata(metadata: Record<string, unknown>): void;
}

export type LogSink = (level: LogLevel, message: string, fields: LogFields | undefined) => void;

export function createOpLogger(sink: LogSink): OpLogger {
  return {
    debug: (m, f) => sink('debug', String(m), f),
    info: (m, f) => sink('info', String(m), f),
    warn: (m, f) => sink('warn', String(m), f),
    error: (m, f) => sink('error', String(m), f),
  };
}
