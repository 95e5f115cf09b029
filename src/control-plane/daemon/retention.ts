// The daemon's retention duty: deletes audit rows older than the retention, and sessions and
// sign-in codes that can no longer be used. Runs at most once per interval.
import type { Logger } from '../../shared/logger.js';
import { pruneAudit } from '../store/audit-log.js';
import { pruneSessions } from '../store/sessions.js';
import type { Store } from '../store/store.js';

export interface RetentionOptions {
  /** Audit rows older than this are deleted. Default 90 days (--audit-retention-days / OUTPOST_AUDIT_RETENTION_DAYS). */
  auditRetentionMs: number;
  /** Time between prunes (store clock). Default 1 hour. */
  pruneIntervalMs: number;
}

export class Retention {
  private lastPruneAt: number | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {}

  /** Prunes when due; returns the rows deleted (0 when not due). */
  async maybePrune(): Promise<number> {
    const now = this.store.now();
    if (this.lastPruneAt !== undefined && now - this.lastPruneAt < this.options.pruneIntervalMs) return 0;
    this.lastPruneAt = now;
    const audit = await pruneAudit(this.store, this.options.auditRetentionMs, now);
    const sessions = await pruneSessions(this.store, now);
    if (audit + sessions > 0) this.logger.info({ audit, sessions }, 'pruned expired audit rows and sessions');
    return audit + sessions;
  }
}
