// A real logger whose lines a test reads back: what it warned about, and that no secret is in it.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/shared/logger.js';

export interface CapturedLog {
  logger: Logger;
  /** Each write of the logger, in order (one JSON line each). */
  lines: string[];
}

export function capturedLogger(name: string, level: 'debug' | 'info' | 'warn'): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ name, level, destination }), lines };
}
