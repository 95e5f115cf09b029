// superviseRun's heartbeats, held back for the first seconds of an attempt. The SDK sends an
// activity's first heartbeat to Temporal at once and throttles only the ones after it (to 0.8 ×
// the heartbeat timeout: 12 s for superviseRun's 15 s). Supervision heartbeats from its first
// pass, so every run paid a RecordActivityTaskHeartbeat (a write of its workflow's mutable state)
// within a second of its start: in a burst of launches one per launch, on top of the steady one
// per 12 s per live run (round 12 counted 17-20 a second with 100 live runs). Held for the first
// FIRST_HEARTBEAT_AFTER_MS, a run sends one heartbeat fewer, and one shorter than that sends none;
// the first still comes 10 s before the 15 s timeout (the steady gap leaves 3 s).
import type { Context } from '@temporalio/activity';

/** How long into an attempt supervision starts heartbeating. */
export const FIRST_HEARTBEAT_AFTER_MS = 5_000;

/** What supervision uses of its activity's context. */
export type HeartbeatContext = Pick<Context, 'heartbeat' | 'cancellationSignal'>;

/** The same context, whose heartbeats before `holdMs` (from now, on `now`'s clock) are dropped. */
export function holdFirstHeartbeats(
  ctx: HeartbeatContext,
  now: () => number,
  holdMs = FIRST_HEARTBEAT_AFTER_MS,
): HeartbeatContext {
  const from = now() + holdMs;
  return {
    heartbeat: (details?: unknown) => {
      if (now() >= from) ctx.heartbeat(details);
    },
    get cancellationSignal() {
      return ctx.cancellationSignal;
    },
  };
}
