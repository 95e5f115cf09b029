// Gives a long-running process's young generation back once it goes quiet.
//
// Start-up grows V8's new space to its maximum (32 MB on a main thread), and it stays there
// until V8's memory reducer judges the process idle: for an idle agent on a loaded host that
// took ~100 s (bench/README.md, round 14), so the agent sat 40-50 MB above its settled size.
// A collection shrinks new space to 1 MB at once, but only when V8 sees a low allocation rate
// over its last 5 s (measured on this host: a collection 4 s after start-up's allocations left
// new space at 32 MB, one 5.5 s after shrank it to 1 MB). So: every window (6 s), if the event
// loop was busy less than `quietUtilization` of it and new space is above its floor, collect
// once. After that new space is small, and the check stays a few microseconds a window until
// work grows it again. A collection that leaves new space large (allocation went on in a quiet
// loop) waits twice as many windows before the next try, up to 32.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './logger.js';

export interface IdleCollectOptions {
  /** How long the event loop must stay quiet before a collection; default 6 s (V8 judges the
   * allocation rate over its last 5 s). */
  windowMs?: number;
  /** Event-loop utilization (0-1) under which a window counts as quiet; default 0.02. */
  quietUtilization?: number;
  /** New space above this many bytes is worth a collection; default 2 MiB (its floor is 1 MiB). */
  minNewSpaceBytes?: number;
  /** Called after each collection with new space's size before and after (bytes). */
  onCollect?: (before: number, after: number) => void;
  /** Logs each collection at debug level. */
  logger?: Logger;
}

export interface IdleCollector {
  /** Collections made so far. */
  readonly collections: number;
  stop(): void;
}

const MIB = 1024 * 1024;

/** V8's full collection, without starting the process with --expose-gc; undefined if refused. */
function collector(): (() => void) | undefined {
  try {
    // The flag only decides whether new contexts get `gc`: take it into one, then turn it off.
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? () => void (gc as () => unknown)() : undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** Starts the check on an unref'd timer (it never keeps the process alive). */
export function collectWhenIdle(opts: IdleCollectOptions = {}): IdleCollector {
  const windowMs = opts.windowMs ?? 6_000;
  const quiet = opts.quietUtilization ?? 0.02;
  const minBytes = opts.minNewSpaceBytes ?? 2 * MIB;
  const gc = collector();
  let collections = 0;
  // Windows to let pass before the next try, after collections that left new space large.
  let skip = 0;
  let backoff = 1;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const window = performance.eventLoopUtilization(now, last);
    last = now;
    if (!gc || window.utilization >= quiet) return;
    const before = newSpaceBytes();
    if (before <= minBytes) {
      backoff = 1;
      return;
    }
    if (skip > 0) {
      skip--;
      return;
    }
    gc();
    collections++;
    const after = newSpaceBytes();
    if (after > minBytes) {
      skip = backoff;
      backoff = Math.min(backoff * 2, 32);
    }
    // The collection itself must not make the next window look busy.
    last = performance.eventLoopUtilization();
    opts.onCollect?.(before, after);
    opts.logger?.debug(
      { newSpaceMiB: { before: before / MIB, after: after / MIB } },
      'event loop quiet: young generation collected',
    );
  }, windowMs);
  timer.unref();
  return {
    get collections() {
      return collections;
    },
    stop: () => clearInterval(timer),
  };
}
