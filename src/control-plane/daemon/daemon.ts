// The schedule and sensor daemon, with an injected clock. Each pass:
// - schedules: enqueue EVALUATE_SCHEDULE for the latest due cron tick, dedupe key
//   `schedule:<loc>:<name>:<tickTime>`, so restarted or duplicated daemons never double-fire.
//   Missed-tick policy: after downtime only the most recent missed tick fires; older ones are
//   skipped, and the daemon says how many (one line per schedule). A schedule seen RUNNING for
//   the first time (or just started) fires from its next tick. The same holds while the daemon
//   runs but no agent evaluates (agents, or Temporal, away): a tick whose evaluation has not
//   begun when the next comes due is skipped (TICK_SUPERSEDED, its tick row says why), so the
//   outage leaves one tick to fire, not one per interval; said once per stall, and when it ends.
//   Nor is a tick claimed once its next is due (claim_until), even before the pass that enqueues
//   that one; a tick whose next never comes (its schedule stopped) is skipped all the same.
// - sensors: every minInterval (aligned to an interval grid, so two daemons agree on the tick),
//   enqueue EVALUATE_SENSOR with the stored cursor, unless the previous evaluation is still open.
//   One whose tick cannot be started fails alone (PassReport.instigatorsFailed, logged once).
//   One Outpost cannot evaluate (`unsupported`) found RUNNING is stopped instead, once, with a
//   SKIPPED tick saying why (PassReport.sensorsStopped, logged once, coded).
//   An ERROR location's schedules and sensors do not tick (PassReport.locationsSkipped), as
//   Dagster's daemons skip a location with a load error: its definitions are the last good ones,
//   kept for display, but a run they request would meet the code that failed to load, and a
//   manual launch there is refused (LOCATION_NOT_LOADED). Their state is kept; once the
//   location loads, a schedule fires its latest missed tick as after downtime.
// - a store that cannot be reached (POSTGRES_UNAVAILABLE) or is closed ends the pass at once: it
//   is no instigator's fault. The outage is logged once, coded; passes back off until it is back.
// - runs stuck in STARTING past `startingTimeoutMs` become FAILURE with an ENGINE event
//   (starting-timeout.ts).
// - expired work-item leases are returned to the queue (or failed) even when no agent polls.
// - acknowledged launches whose run never reported launched within `launchDeadlineMs` are
//   queued again, then fail with RUN_LAUNCH_TIMEOUT (launch-reaper.ts).
// - audit rows and finished ticks past their retention, and dead sessions, are deleted (retention.ts).
import { backoffDelay } from '../../shared/backoff.js';
import { errorCode, errorLogFields, type OutpostError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { hasOpenTick, listInstigators, updateInstigator, type InstigatorKind } from '../store/instigators.js';
import { listLocations, type LocationView } from '../store/locations.js';
import type { InstigatorsTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { expireLeases } from '../services/work-service.js';
import { reapUnlaunchedRuns } from '../services/launch-reaper.js';
import {
  startScheduleTick,
  startSensorTick,
  stopUnsupportedSensor,
  supersedeStaleTicks,
} from '../services/ticks-service.js';
import { DEFAULT_AUDIT_RETENTION_MS } from '../store/audit-log.js';
import { DEFAULT_SKIPPED_TICK_RETENTION_MS, DEFAULT_TICK_RETENTION_MS } from '../store/instigators.js';
import { Retention, type RetentionOptions } from './retention.js';
import { countTicksBetween, latestDueTick, MAX_COUNTED_TICKS } from './cron-ticks.js';
import { nextCronTime } from '../services/instigators-service.js';
import { timeoutStartingRuns } from '../services/starting-timeout.js';

export type { RetentionOptions } from './retention.js';

export interface DaemonOptions extends RetentionOptions {
  /** Time between passes (real time). Default 2000 ms. */
  intervalMs: number;
  /** A run still STARTING after this long fails. Default 5 minutes. */
  startingTimeoutMs: number;
  /**
   * An ACKED launch whose run is still QUEUED this long after the ack is queued again (then,
   * after its attempts, fails with RUN_LAUNCH_TIMEOUT). Default 3 minutes: far above a launch
   * under load (the concurrency bench saw 67 s to start 200 runs at once).
   */
  launchDeadlineMs: number;
}

export const DEFAULT_DAEMON_OPTIONS: DaemonOptions = {
  intervalMs: 2_000,
  startingTimeoutMs: 5 * 60_000,
  launchDeadlineMs: 3 * 60_000,
  auditRetentionMs: DEFAULT_AUDIT_RETENTION_MS,
  tickRetentionMs: DEFAULT_TICK_RETENTION_MS,
  skippedTickRetentionMs: DEFAULT_SKIPPED_TICK_RETENTION_MS,
  pruneIntervalMs: 3_600_000,
};

/** The longest wait between passes while the store is unavailable. */
const OUTAGE_BACKOFF_MAX_MS = 10_000;

export interface PassReport {
  schedulesFired: string[];
  sensorsFired: string[];
  runsTimedOut: string[];
  /** Runs whose acknowledged launch never started: queued again, or failed after their attempts. */
  launchesRequeued: string[];
  launchesFailed: string[];
  /** Audit, tick, session and sign-in-code rows deleted by retention this pass. */
  pruned: number;
  /** Unsupported sensors (`location/name`) found RUNNING and stopped this pass. */
  sensorsStopped: string[];
  /** Schedules and sensors (`location/name`) whose tick could not be started this pass. */
  instigatorsFailed: string[];
  /** ERROR locations with schedules or sensors: none of them ticked this pass. */
  locationsSkipped: string[];
}

export class Daemon {
  readonly options: DaemonOptions;
  /** The error each instigator failed with last pass (`KIND:location/name`), so it is logged once. */
  private failing = new Map<string, string>();
  /** ERROR locations skipped by the last pass (logged when a location starts being skipped). */
  private skipped = new Set<string>();
  private readonly retention: Retention;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;
  private stopped = true;
  /** The store error passes are waiting out, and how many passes in a row it ended. */
  private outage: { error: OutpostError; passes: number } | undefined;
  /** Schedules (`location/name`) whose ticks are being skipped unevaluated, and how many so far. */
  private stalled = new Map<string, { skipped: number; since: number }>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: Partial<DaemonOptions> = {},
  ) {
    this.options = { ...DEFAULT_DAEMON_OPTIONS, ...options };
    this.retention = new Retention(store, logger, this.options);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.runOnce()
        .then(
          () => this.passSucceeded(),
          (err: unknown) => this.passFailed(err),
        )
        .then((next) => {
          if (next !== undefined) this.schedule(next);
        });
    }, ms);
  }

  /** The delay before the next pass. */
  private passSucceeded(): number {
    if (this.outage) {
      this.logger.info(
        { code: this.outage.error.code, failedPasses: this.outage.passes },
        'metadata store reachable again; schedules and sensors resume',
      );
      this.outage = undefined;
    }
    return this.options.intervalMs;
  }

  /** The delay before the next pass, or undefined for none (the store was closed). */
  private passFailed(err: unknown): number | undefined {
    const down = this.store.unavailableError(err);
    if (!down) {
      this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'daemon pass failed');
      return this.options.intervalMs;
    }
    if (down.errorName === 'STORE_CLOSED') {
      this.logger.warn({ code: down.code }, 'metadata store closed; daemon stopped');
      return undefined;
    }
    // One line when the outage begins, not one per pass or per instigator.
    if (!this.outage) {
      this.logger.error(errorLogFields(down), 'metadata store unavailable; daemon passes back off until it is back');
    }
    const passes = (this.outage?.passes ?? 0) + 1;
    this.outage = { error: down, passes };
    const next = backoffDelay(passes - 1, {
      initialMs: this.options.intervalMs,
      maxMs: Math.max(this.options.intervalMs, OUTAGE_BACKOFF_MAX_MS),
    });
    this.logger.debug({ code: down.code, failedPasses: passes, nextPassMs: next }, 'metadata store still unavailable');
    return next;
  }

  /**
   * One pass at the store's current clock; tests call this directly. Rejects with the store's
   * coded error (POSTGRES_UNAVAILABLE, STORE_CLOSED) when the store, not one instigator, failed.
   */
  async runOnce(): Promise<PassReport> {
    try {
      return await this.pass();
    } catch (err) {
      throw this.store.unavailableError(err) ?? err;
    }
  }

  private async pass(): Promise<PassReport> {
    const report: PassReport = {
      schedulesFired: [],
      sensorsFired: [],
      sensorsStopped: [],
      runsTimedOut: [],
      launchesRequeued: [],
      launchesFailed: [],
      pruned: 0,
      instigatorsFailed: [],
      locationsSkipped: [],
    };
    const passStart = this.store.now();
    await expireLeases(this.store);
    const reaped = await reapUnlaunchedRuns(this.store, this.options.launchDeadlineMs);
    report.launchesRequeued = reaped.requeued;
    report.launchesFailed = reaped.failed;
    for (const runId of reaped.requeued) this.logger.warn({ runId }, 'acknowledged launch never started; queued again');
    for (const runId of reaped.failed) this.logger.warn({ runId }, 'run failed: RUN_LAUNCH_TIMEOUT');
    const rows = await listInstigators(this.store.db);
    let enqueued = false;
    // One instigator whose tick cannot be started (its definitions are broken or hostile) fails
    // alone: the pass goes on to every other location's, the STARTING timeout and retention.
    const failing = new Map<string, string>();
    const pass = async (
      loc: LocationView,
      kind: InstigatorKind,
      name: string,
      fired: string[],
      fn: () => Promise<boolean>,
    ) => {
      const key = `${loc.name}/${name}`;
      try {
        if (await fn()) {
          fired.push(key);
          enqueued = true;
        }
      } catch (err) {
        // A store that is down fails every instigator alike: that ends the pass (runOnce codes it).
        if (this.store.unavailableError(err)) throw err;
        const message = err instanceof Error ? err.message : String(err);
        report.instigatorsFailed.push(key);
        failing.set(`${kind}:${key}`, message);
        // Logged when it starts failing or its error changes, not every pass (every 2 s).
        if (this.failing.get(`${kind}:${key}`) !== message) {
          this.logger.error(
            { location: loc.name, kind, name, err: message },
            'tick could not be started; other schedules and sensors go on',
          );
        }
      }
    };
    const skipped = new Set<string>();
    for (const loc of await listLocations(this.store.db)) {
      if (!loc.snapshot) continue;
      if (loc.status === 'ERROR') {
        const ticking = loc.snapshot.schedules.length + loc.snapshot.sensors.length > 0;
        if (ticking) skipped.add(loc.name);
        if (ticking && !this.skipped.has(loc.name))
          this.logger.warn(
            { location: loc.name },
            'location is ERROR: its schedules and sensors do not tick until it loads again',
          );
        continue;
      }
      for (const s of loc.snapshot.schedules) {
        const row = rows.find((r) => r.location === loc.name && r.kind === 'SCHEDULE' && r.name === s.name);
        await pass(loc, 'SCHEDULE', s.name, report.schedulesFired, () => this.schedulePass(loc, s, row));
      }
      for (const s of loc.snapshot.sensors) {
        const row = rows.find((r) => r.location === loc.name && r.kind === 'SENSOR' && r.name === s.name);
        const fn = s.unsupported
          ? () => this.stopUnsupported(loc, s, row, report.sensorsStopped)
          : () => this.sensorPass(loc, s, row);
        await pass(loc, 'SENSOR', s.name, report.sensorsFired, fn);
      }
    }
    this.failing = failing;
    this.skipped = skipped;
    report.locationsSkipped = [...skipped];
    // Agents claim what this pass enqueued now, not after the rest of the pass.
    if (enqueued) this.store.signals.notifyWork();
    await this.sweepStaleTicks(passStart);
    report.runsTimedOut = await timeoutStartingRuns(this.store, this.options.startingTimeoutMs);
    for (const runId of report.runsTimedOut) this.logger.warn({ runId }, 'run failed: STARTING timeout');
    report.pruned = await this.retention.maybePrune();
    return report;
  }

  /**
   * Skips schedule ticks not begun whose next tick was due at the pass's start. A RUNNING
   * schedule's turn in the pass skipped its own already (and said so, once per stall), so what is
   * left is a stopped schedule's, an ERROR location's or one whose tick failed to start. Fails
   * alone, as an instigator does: the rest of the pass goes on.
   */
  private async sweepStaleTicks(passStart: number): Promise<void> {
    try {
      const stale = await supersedeStaleTicks(this.store, passStart);
      if (stale.length)
        this.logger.info(
          {
            code: errorCode('TICK_SUPERSEDED'),
            ticks: stale.map((t) => `${t.location}/${t.name}@${new Date(t.tickTime).toISOString()}`),
          },
          'schedule ticks skipped: no agent began them before their next tick came due (their tick rows say why)',
        );
    } catch (err) {
      if (this.store.unavailableError(err)) throw err;
      this.logger.error(
        { err: err instanceof Error ? err.message : String(err) },
        'skipping stale schedule ticks failed',
      );
    }
  }

  private async schedulePass(
    loc: LocationView,
    s: NonNullable<LocationView['snapshot']>['schedules'][number],
    row: InstigatorsTable | undefined,
  ): Promise<boolean> {
    if ((row?.state ?? s.defaultStatus) !== 'RUNNING') return false;
    const store = this.store;
    const now = store.now();
    const key = { location: loc.name, kind: 'SCHEDULE' as const, name: s.name };
    if (row?.last_tick_at == null) {
      await updateInstigator(store.db, store, key, { last_tick_at: now });
      return false;
    }
    let tick: number | undefined;
    try {
      tick = latestDueTick(s.cron, s.timezone, Number(row.last_tick_at), now);
    } catch (err) {
      this.logger.warn({ location: loc.name, schedule: s.name, err: String(err) }, 'invalid cron; schedule skipped');
      return false;
    }
    if (tick === undefined) return false;
    const last = Number(row.last_tick_at);
    const missed = countTicksBetween(s.cron, s.timezone, last, tick);
    if (missed > 0)
      this.logger.warn(
        {
          location: loc.name,
          schedule: s.name,
          missedTicks: missed >= MAX_COUNTED_TICKS ? `${MAX_COUNTED_TICKS}+` : missed,
          since: new Date(last).toISOString(),
          firing: new Date(tick).toISOString(),
        },
        'schedule ticks came due while no daemon pass ran (downtime, or a pass held up); only the latest fires (missed-tick policy)',
      );
    const started = await startScheduleTick(
      store,
      { location: loc.name, name: s.name },
      { tickTime: tick, nextTickTime: nextCronTime(s.cron, s.timezone, tick) ?? undefined },
      s.defaultStatus === 'RUNNING',
    );
    if (started.created) this.noteSuperseded(`${loc.name}/${s.name}`, started.superseded, tick);
    return started.created;
  }

  /** Says when a schedule's ticks start being skipped unevaluated (once), and when that ends. */
  private noteSuperseded(key: string, superseded: number[], tick: number): void {
    const stall = this.stalled.get(key);
    if (!superseded.length) {
      if (!stall) return;
      this.stalled.delete(key);
      this.logger.info(
        { schedule: key, skippedTicks: stall.skipped, since: new Date(stall.since).toISOString() },
        'schedule ticks are evaluated again',
      );
      return;
    }
    if (stall) {
      stall.skipped += superseded.length;
      return;
    }
    this.stalled.set(key, { skipped: superseded.length, since: superseded[0]! });
    this.logger.warn(
      {
        code: errorCode('TICK_SUPERSEDED'),
        schedule: key,
        skipped: superseded.map((t) => new Date(t).toISOString()),
        firing: new Date(tick).toISOString(),
      },
      'schedule tick skipped: no agent began its evaluation before the next came due (agent or Temporal away?); until one does, each tick waits for the next',
    );
  }

  private async sensorPass(
    loc: LocationView,
    s: NonNullable<LocationView['snapshot']>['sensors'][number],
    row: InstigatorsTable | undefined,
  ): Promise<boolean> {
    if ((row?.state ?? s.defaultStatus) !== 'RUNNING') return false;
    const store = this.store;
    const interval = s.minIntervalSeconds * 1000;
    const tickTime = Math.floor(store.now() / interval) * interval;
    const last = row?.last_tick_at == null ? undefined : Number(row.last_tick_at);
    if (last !== undefined && tickTime <= last) return false;
    if (await hasOpenTick(store.db, loc.name, 'SENSOR', s.name)) return false;
    // The row was read at the pass's start: startSensorTick decides again on the locked row.
    return startSensorTick(store, { location: loc.name, name: s.name }, tickTime, s.defaultStatus === 'RUNNING');
  }

  /**
   * An unsupported sensor found RUNNING: stopped, saying why (once: it is not RUNNING after), and
   * added to `stopped`. Returns false: it never ticks.
   */
  private async stopUnsupported(
    loc: LocationView,
    s: NonNullable<LocationView['snapshot']>['sensors'][number],
    row: InstigatorsTable | undefined,
    stopped: string[],
  ): Promise<boolean> {
    if ((row?.state ?? s.defaultStatus) !== 'RUNNING' || !s.unsupported) return false;
    const key = { location: loc.name, name: s.name };
    if (await stopUnsupportedSensor(this.store, key, { unsupported: s.unsupported, defaultStatus: s.defaultStatus })) {
      stopped.push(`${loc.name}/${s.name}`);
      this.logger.warn(
        { code: errorCode('UNSUPPORTED_DAGSTER_FEATURE'), ...key, detail: s.unsupported },
        'a sensor Outpost cannot evaluate was RUNNING: stopped it rather than fail every tick (its tick history says why)',
      );
    }
    return false;
  }
}
