// When `outpost dev` restarts a crashed component, and when it gives up. Pure: the supervisor
// passes the times of the component's crashes and the clock.

export interface RestartPolicy {
  /** Delay before the first restart; each further crash in the window doubles it. Default 1 s. */
  initialDelayMs: number;
  /** Upper bound of the delay. Default 30 s. */
  maxDelayMs: number;
  /** Starts allowed within `windowMs`, the first included; one more crash gives up. Default 5. */
  maxAttempts: number;
  /** Only crashes this recent count. Default 5 minutes. */
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxAttempts: 5,
  windowMs: 5 * 60_000,
};

export type RestartPlan =
  | { action: 'restart'; delayMs: number; attempt: number; maxAttempts: number }
  | { action: 'give-up'; crashes: number; windowMs: number };

/**
 * `crashes`: times of this component's crashes, the one just seen included. With k of them in
 * the window the next start is attempt k + 1 of `maxAttempts`, after initialDelay * 2^(k-1).
 */
export function planRestart(crashes: readonly number[], now: number, policy: RestartPolicy): RestartPlan {
  const recent = crashes.filter((t) => now - t < policy.windowMs).length;
  const attempt = recent + 1;
  if (attempt > policy.maxAttempts) return { action: 'give-up', crashes: recent, windowMs: policy.windowMs };
  const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, recent - 1));
  return { action: 'restart', delayMs, attempt, maxAttempts: policy.maxAttempts };
}

/** `1s`, `2.5s`, `2m`: for "restarting in …". */
export function formatDelay(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 100) / 10}s`;
}
