// Per-token request rate on the user API: a token bucket per token id (a web UI session counts
// as its token), in this control-plane process. Without it one token of any role could send
// requests as fast as the server answers them, and each mutation in them writes an audit row
// (a refused one too), so the audit table grew at the caller's request rate.
// A request takes one unit when it is authenticated (handler.ts), and each mutation field in it
// one more (graphql/guard.ts `audited`, before its audit row; maxMutationsPerRequest caps them);
// a web UI sign-in with the token takes one (store/sessions.ts). The agent API is exempt: its
// traffic is the agent's own work (claims, heartbeats, events, logs), bounded per call by the
// batch limits, and throttling it would stall runs; agent tokens are issued by an ADMIN.
// /healthz, /readyz and /metrics take no token.
import { OutpostError } from '../../shared/errors.js';
import { limitDetail, type ApiLimits } from '../limits.js';

/** Buckets kept before full ones (tokens idle long enough to have refilled) are let go. */
const TRACKED_TOKENS = 10_000;

interface Bucket {
  units: number;
  at: number;
}

export class RequestBudget {
  private readonly buckets = new Map<string, Bucket>();

  /** `now` is a monotonic clock in milliseconds. */
  constructor(
    private readonly limits: Pick<ApiLimits, 'maxRequestsPerSecondPerToken' | 'maxRequestBurstPerToken'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `units` from `tokenId`'s bucket; throws RATE_LIMITED (taking nothing) when it holds fewer. */
  take(tokenId: string, units = 1): void {
    const { maxRequestsPerSecondPerToken: rate, maxRequestBurstPerToken: burst } = this.limits;
    const now = this.now();
    const b = this.buckets.get(tokenId) ?? this.track(tokenId, { units: burst, at: now });
    b.units = Math.min(burst, b.units + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.units >= units) {
      b.units -= units;
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((units - b.units) / rate));
    throw new OutpostError('RATE_LIMITED', {
      detail: limitDetail(
        'maxRequestsPerSecondPerToken',
        rate,
        `retry in ${retryAfterSeconds} s (bursts up to maxRequestBurstPerToken ${burst})`,
      ),
      data: { limit: 'maxRequestsPerSecondPerToken', value: rate, burst, retryAfterSeconds },
    });
  }

  private track(tokenId: string, b: Bucket): Bucket {
    if (this.buckets.size >= TRACKED_TOKENS) {
      const { maxRequestsPerSecondPerToken: rate, maxRequestBurstPerToken: burst } = this.limits;
      for (const [id, old] of this.buckets) {
        if (old.units + ((b.at - old.at) / 1000) * rate >= burst) this.buckets.delete(id);
      }
    }
    this.buckets.set(tokenId, b);
    return b;
  }
}

/** The Retry-After header for a RATE_LIMITED refusal. */
export function retryAfter(e: OutpostError): Record<string, string> {
  const s = (e.data as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof s === 'number' ? { 'retry-after': String(s) } : {};
}
