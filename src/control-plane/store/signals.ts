// Wake-ups between writers and long-pollers: an in-process emitter, plus PostgreSQL
// LISTEN/NOTIFY so that an enqueue on one control-plane replica wakes pollers on all of them.
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Logger } from '../../shared/logger.js';
import { backoffDelay } from '../../shared/backoff.js';
import { pgModule } from './dialect/pg-module.js';

const WORK_CHANNEL = 'outpost_work';
const RUN_EVENTS_CHANNEL = 'outpost_run_events';

export class Signals {
  private readonly emitter = new EventEmitter();
  private listener: pg.Client | undefined;
  private pool: pg.Pool | undefined;
  private url = '';
  private relistening: NodeJS.Timeout | undefined;

  constructor(private readonly logger?: Logger) {
    // Every long-poll and subscription adds a listener; they are removed when they end.
    this.emitter.setMaxListeners(0);
  }

  /**
   * PostgreSQL only: listen on a dedicated connection (not a pooled one). A connection the server
   * ends (a restart) is opened again, with backoff, until `close`: without it, wake-ups from other
   * replicas stopped for good after the first PostgreSQL restart (long-polls then waited out
   * their timeout). Wakes local waiters on reconnect, since NOTIFYs sent meanwhile are lost.
   */
  async listen(url: string, pool: pg.Pool): Promise<void> {
    this.pool = pool;
    this.url = url;
    await this.connectListener();
  }

  private async connectListener(): Promise<void> {
    const client = new (pgModule().Client)({ connectionString: this.url });
    client.on('error', (err) => this.logger?.warn({ err: err.message }, 'LISTEN connection error'));
    // Only the open listener's end starts a reconnect; a failed attempt is retried by relisten.
    client.on('end', () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.relisten(0);
    });
    await client.connect();
    client.on('notification', (n) => {
      if (n.channel === WORK_CHANNEL) this.emitter.emit('work');
      else if (n.channel === RUN_EVENTS_CHANNEL && n.payload) this.emitter.emit(`run:${n.payload}`);
    });
    await client.query(`LISTEN ${WORK_CHANNEL}`);
    await client.query(`LISTEN ${RUN_EVENTS_CHANNEL}`);
    this.listener = client;
  }

  private relisten(attempt: number): void {
    if (!this.pool || this.relistening) return;
    this.relistening = setTimeout(
      () => {
        this.relistening = undefined;
        if (!this.pool) return;
        this.connectListener().then(
          () => {
            this.logger?.info({ attempts: attempt + 1 }, 'LISTEN connection open again');
            this.emitter.emit('work');
          },
          () => this.relisten(attempt + 1),
        );
      },
      backoffDelay(attempt, { initialMs: 250, maxMs: 5_000 }),
    ).unref();
  }

  notifyWork(): void {
    this.emitter.emit('work');
    this.publish(WORK_CHANNEL, '');
  }

  notifyRunEvents(runId: string): void {
    this.emitter.emit(`run:${runId}`);
    this.publish(RUN_EVENTS_CHANNEL, runId);
  }

  /** How many long-polls or subscriptions wait for `what` on this replica right now. */
  waiting(what: 'work' | { runId: string }): number {
    return this.emitter.listenerCount(what === 'work' ? 'work' : `run:${what.runId}`);
  }

  /** Resolves on the next signal or after `ms`, whichever is first; never rejects. */
  waitFor(what: 'work' | { runId: string }, ms: number, abort?: AbortSignal): Promise<void> {
    const name = what === 'work' ? 'work' : `run:${what.runId}`;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.emitter.off(name, done);
        abort?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.emitter.on(name, done);
      abort?.addEventListener('abort', done, { once: true });
    });
  }

  private publish(channel: string, payload: string): void {
    if (!this.pool) return;
    this.pool.query('SELECT pg_notify($1, $2)', [channel, payload]).catch((err: unknown) => {
      this.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'NOTIFY failed');
    });
  }

  async close(): Promise<void> {
    this.pool = undefined;
    clearTimeout(this.relistening);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    this.emitter.removeAllListeners();
  }
}
