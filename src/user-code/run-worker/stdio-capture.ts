// Where the op code's stdout and stderr go. The agent spawns the run worker with fd 1 and 2
// already opened on <spool>/stdout.log and <spool>/stderr.log, so child processes an op starts
// inherit them too. Run by hand (a terminal, a pipe), the worker sends its own process.stdout /
// process.stderr writes (console.* included) to those files instead.
import { fstatSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SPOOL_FILES } from '../../shared/run-spool.js';

/** True when file descriptor `fd` is the file at `path`. */
function fdIsFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

/** Returns which streams had to be redirected in-process (empty when the spawner did it). */
export function captureStdio(spoolDir: string): Array<'stdout' | 'stderr'> {
  const redirected: Array<'stdout' | 'stderr'> = [];
  for (const [name, stream, fd] of [
    ['stdout', process.stdout, 1],
    ['stderr', process.stderr, 2],
  ] as const) {
    const path = join(spoolDir, SPOOL_FILES[name]);
    if (fdIsFile(fd, path)) continue;
    const target = openSync(path, 'a', 0o600);
    // Synchronous writes keep the file in step with the event spool, and nothing is lost on exit.
    stream.write = (chunk: string | Uint8Array, encoding?: unknown, cb?: unknown): boolean => {
      const callback = typeof encoding === 'function' ? encoding : cb;
      if (typeof chunk === 'string') {
        writeSync(target, chunk, null, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      } else writeSync(target, chunk);
      if (typeof callback === 'function') (callback as () => void)();
      return true;
    };
    redirected.push(name);
  }
  return redirected;
}
