// The daemon's retention duty: deletes audit rows and finished schedule and sensor ticks older
// than their retention, and sessions and sign-in codes that can no longer be used. Runs at most
// once per interval.
import type { Logger } from '../../shared/logger.js';
import { pruneAudit } from '../store/audit-log.js';
import { pruneTicks } from '../store/instigators.js';
import { pruneSessions } from '../store/sessions.js';
import type { Store } from '../store/store.js';

export interface RetentionOptions {
  /** Audit rows older than this are deleted. Default 90 days (--audit-retention-days / OUTPOST_AUDIT_RETENTION_DAYS). */
  auditRetentionMs: number;
  /**
   * Finished (SUCCESS, FAILURE) schedule and sensor ticks older than this are deleted. Default
   * 30 days (--tick-retention-days / OUTPOST_TICK_RETENTION_DAYS). A sensor ticking every few
   * seconds writes a row per tick, so without it the table grows for as long as the sensor runs.
   */
  tickRetentionMs: number;
  /** SKIPPED ticks older than this are deleted. Default 7 days (--skipped-tick-retention-days / OUTPOST_SKIPPED_TICK_RETENTION_DAYS). */
  skippedTickRetentionMs: number;
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
    const ticks = await pruneTicks(
      this.store,
      { finishedMs: this.options.tickRetentionMs, skippedMs: this.options.skippedTickRetentionMs },
      now,
    );
    const sessions = await pruneSessions(this.store, now);
    if (audit + ticks + sessions > 0) {
      this.logger.info({ audit, ticks, sessions }, 'pruned expired audit rows, ticks and sessions');
    }
    return audit + ticks + sessions;
  }
}
