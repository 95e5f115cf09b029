// The one logger (pino). Secrets are redacted by key wherever they appear.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
  'databaseUrl',
  '*.databaseUrl',
  'agentToken',
  '*.agentToken',
];

export interface LoggerOptions {
  /** Component name, e.g. `control-plane`, `agent`. */
  name: string;
  /** pino level; default `OUTPOST_LOG_LEVEL` or `info`. */
  level?: string;
  /** Write to this stream instead of stdout (tests). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env.OUTPOST_LOG_LEVEL ?? 'info';
  const options = { name: opts.name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** Replace the password in a connection URL, for printing. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return url.replace(/:\/\/([^:/]+):[^@]+@/, '://$1:redacted@');
  }
}
