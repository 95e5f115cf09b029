// What every resolver receives: the store, the limits and the authenticated token.
import { OutpostError } from '../../shared/errors.js';
import { limitDetail, type ApiLimits } from '../limits.js';
import type { Metrics } from '../http/metrics.js';
import type { DeployPolicy } from '../services/deploy-policy.js';
import type { Store } from '../store/store.js';
import type { TokenInfo } from '../store/tokens.js';
import type { RequestBudget } from '../http/request-budget.js';
import type { SubscriptionSlots } from './subscription-slots.js';

export interface ApiContext {
  store: Store;
  limits: ApiLimits;
  metrics: Metrics;
  principal: TokenInfo;
  request: Request;
  /** Which module paths and commands a non-ADMIN may deploy (user API only). */
  deployPolicy: DeployPolicy;
  /** Open `runEvents` streams per token, capped by limits.maxSubscriptionsPerToken. */
  subscriptions: SubscriptionSlots;
  /** Per-token request rate (user API only; the agent API is exempt): each mutation takes a unit. */
  requestBudget?: RequestBudget;
}

/** Throws BATCH_TOO_LARGE naming the limit when `n` exceeds it. */
export function checkBatch(what: string, n: number, limitName: keyof ApiLimits, limit: number): void {
  if (n > limit) {
    throw new OutpostError('BATCH_TOO_LARGE', {
      detail: limitDetail(limitName, limit, `${what} has ${n}`),
      data: { limit: limitName, value: limit, got: n },
    });
  }
}

export function pageSize(first: number | null | undefined, fallback: number, limits: ApiLimits): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1)
    throw new OutpostError('INVALID_ARGUMENT', { detail: '`first` must be a positive integer' });
  checkBatch('`first`', n, 'maxPageSize', limits.maxPageSize);
  return n;
}
