// Bounds a call into user code. A synchronous infinite loop cannot be interrupted from the same
// thread; everything that awaits (I/O, timers) can, and the caller gets USER_CODE_TIMEOUT.
import { OutpostError } from '../../shared/errors.js';

export async function withTimeout<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OutpostError('USER_CODE_TIMEOUT', { detail: `${what} took longer than ${timeoutMs} ms` })),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
