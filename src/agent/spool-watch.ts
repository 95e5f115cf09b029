// Wakes the supervisor as soon as the run worker writes to its spool (inotify through
// fs.watch), so events reach the control plane without waiting out a poll interval. Polling
// stays as the fallback: a missed or unsupported notification only costs one interval.
import { mkdirSync, watch, type FSWatcher } from 'node:fs';

export class SpoolWatch {
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private changed = false;

  constructor(dir: string) {
    try {
      mkdirSync(dir, { recursive: true });
      this.watcher = watch(dir, () => this.poke());
      this.watcher.on('error', () => this.close());
    } catch {
      this.watcher = undefined;
    }
  }

  /** True while notifications arrive (fs.watch started and has not failed): a poll is then only a fallback. */
  get live(): boolean {
    return this.watcher !== undefined;
  }

  /** Wakes the current wait (or the next one) as a spool write does: something else changed (the worker exited). */
  poke(): void {
    this.changed = true;
    this.wake?.();
  }

  /** Resolves after `ms`, when a spool file changes, or when `signal` aborts, whichever is first. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.changed || signal.aborted) {
      this.changed = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        this.changed = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.wake?.();
  }
}
