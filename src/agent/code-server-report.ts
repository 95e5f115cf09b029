// Reporting a location's status (LOADING / LOADED / ERROR, with its snapshot or error) to the
// control plane. Sent again with backoff while refused, in the background, until a newer
// report for the same location replaces it.
import type { Logger } from '../shared/logger.js';
import { backoffDelay } from '../shared/backoff.js';
import type { ReportCodeLocationInput } from '../gen/graphql/agent.js';
import type { ControlPlaneClient } from './control-plane-client.js';
import { boundPartitionKeys, type LocationSnapshot } from '../shared/location-snapshot.js';
import { refusesKeysBounded, snapshotForOlderControlPlane } from './older-control-plane.js';

/** Sends of one location report before giving up (about 2 minutes with backoff). */
const REPORT_ATTEMPTS = 30;

export type LocationStatus = 'LOADING' | 'LOADED' | 'ERROR';

export class LocationReporter {
  /** The latest report per location; a pending retry is dropped once a newer one replaces it. */
  private readonly latestReport = new Map<string, object>();
  /**
   * Set once the control plane refused keysBounded (it is older than that field): snapshots then
   * go to it with their static sets whole, for this agent's lifetime.
   */
  private sendsWholeKeys = false;

  constructor(
    private readonly opts: {
      controlPlane: ControlPlaneClient;
      agentId: () => string;
      logger: Logger;
      /** True once the manager stopped: no more retries. */
      stopped: () => boolean;
    },
  ) {}

  async report(
    location: string,
    version: number,
    status: LocationStatus,
    extra: { snapshot?: unknown; error?: string },
  ): Promise<void> {
    const input: ReportCodeLocationInput = {
      agentId: this.opts.agentId(),
      location,
      version,
      status,
      ...extra,
    };
    // A static set of 100,000 keys is ~1.4 MB, of which the control plane keeps the first keys
    // and the count: send only those (the rest stay this agent's to list and decide).
    const bounded = this.sendsWholeKeys ? undefined : boundedSnapshot(extra.snapshot);
    if (bounded) Object.assign(input, { snapshot: bounded, keysBounded: true });
    this.latestReport.set(location, input);
    const send = async (n: number): Promise<void> => {
      try {
        await this.opts.controlPlane.reportCodeLocation(input);
      } catch (err) {
        const why = (err as Error).message;
        if (input.keysBounded && refusesKeysBounded(why) && this.latestReport.get(location) === input) {
          this.opts.logger.info(
            { location, version },
            'the control plane is older than keysBounded: partition sets sent whole',
          );
          this.sendsWholeKeys = true;
          delete input.keysBounded;
          input.snapshot = extra.snapshot;
          return send(n + 1);
        }
        // A control plane older than this agent refuses a snapshot it cannot read: send what it reads.
        const older = input.snapshot === undefined ? undefined : snapshotForOlderControlPlane(input.snapshot, err);
        if (older !== undefined && this.latestReport.get(location) === input) {
          this.opts.logger.info(
            { location, version },
            'the control plane is older than this agent: snapshot sent in its form',
          );
          input.snapshot = older;
          return send(n + 1);
        }
        // Refused until this deployment's claim of the version's SYNC item lands (LOCATION_NOT_OWNED),
        // or the control plane is away: send it again, unless a newer report replaced it.
        if (this.opts.stopped() || n + 1 >= REPORT_ATTEMPTS || this.latestReport.get(location) !== input) {
          this.opts.logger.warn({ location, version, err: why }, 'reportCodeLocation failed');
          return;
        }
        this.opts.logger.debug({ location, version, err: why }, 'reportCodeLocation refused; retrying');
        // In the background: the caller (a code server start) must not wait on the retries.
        const retry = setTimeout(
          () => {
            if (this.latestReport.get(location) === input) void send(n + 1);
          },
          backoffDelay(n, { initialMs: 250, maxMs: 5_000 }),
        );
        retry.unref();
      }
    };
    await send(0);
  }
}

/** `snapshot` with its large static sets cut (boundPartitionKeys), or undefined when none is. */
function boundedSnapshot(snapshot: unknown): LocationSnapshot | undefined {
  if (typeof snapshot !== 'object' || snapshot === null || !Array.isArray((snapshot as LocationSnapshot).partitions)) {
    return undefined;
  }
  const cut = boundPartitionKeys(snapshot as LocationSnapshot);
  return cut === snapshot ? undefined : cut;
}
