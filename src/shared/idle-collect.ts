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
// The control plane and code servers use it. The agent does not: a young generation given back
// makes its next burst of runs cost more in GC (cli/commands/agent.ts).
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './logger.js';

/** V8's full collection. */
export type Collect = () => void;

const MIB = 1024 * 1024;

/**
 * The process's collector: its own `gc` when it was started with --expose-gc, else one taken from
 * a context made while that flag is on for a moment. V8's flags are process-wide, so call this
 * first thing in a process's entry point, before any thread starts or user code loads: nothing
 * else can make a context (and find `gc` in it) meanwhile. Undefined if V8 refuses.
 */
export function takeCollector(): Collect | undefined {
  const own: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return () => void (own as () => unknown)();
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? () => void (gc as () => unknown)() : undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

export interface IdlePolicy {
  /** Event-loop utilization (0-1) under which a window counts as quiet. */
  quietUtilization: number;
  /** New space above this many bytes is worth a collection (its floor is 1 MiB). */
  minNewSpaceBytes: number;
}

/** Windows to let pass before the next try, after collections that left new space large. */
export interface IdleBackoff {
  skip: number;
  backoff: number;
}

export const NO_BACKOFF: IdleBackoff = { skip: 0, backoff: 1 };

/** One window's decision: whether to collect now, and the backoff to carry on. */
export function decideWindow(
  window: { utilization: number; newSpaceBytes: number },
  policy: IdlePolicy,
  state: IdleBackoff,
): { collect: boolean; next: IdleBackoff } {
  if (window.utilization >= policy.quietUtilization) return { collect: false, next: state };
  if (window.newSpaceBytes <= policy.minNewSpaceBytes) return { collect: false, next: NO_BACKOFF };
  if (state.skip > 0) return { collect: false, next: { ...state, skip: state.skip - 1 } };
  return { collect: true, next: state };
}

/** The backoff after a collection that left new space at `afterBytes`. */
export function afterCollection(afterBytes: number, policy: IdlePolicy, state: IdleBackoff): IdleBackoff {
  if (afterBytes <= policy.minNewSpaceBytes) return NO_BACKOFF;
  return { skip: state.backoff, backoff: Math.min(state.backoff * 2, 32) };
}

export interface IdleCollectOptions extends Partial<IdlePolicy> {
  /** How long the event loop must stay quiet before a collection; default 6 s (V8 judges the
   * allocation rate over its last 5 s). */
  windowMs?: number;
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

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** Starts the check on an unref'd timer (it never keeps the process alive); none without `collect`. */
export function collectWhenIdle(collect: Collect | undefined, opts: IdleCollectOptions = {}): IdleCollector {
  if (!collect) return { collections: 0, stop: () => undefined };
  const windowMs = opts.windowMs ?? 6_000;
  const policy: IdlePolicy = {
    quietUtilization: opts.quietUtilization ?? 0.02,
    minNewSpaceBytes: opts.minNewSpaceBytes ?? 2 * MIB,
  };
  let collections = 0;
  let state = NO_BACKOFF;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const before = newSpaceBytes();
    const step = decideWindow(
      { utilization: performance.eventLoopUtilization(now, last).utilization, newSpaceBytes: before },
      policy,
      state,
    );
    last = now;
    state = step.next;
    if (!step.collect) return;
    collect();
    collections++;
    const after = newSpaceBytes();
    state = afterCollection(after, policy, state);
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
