// Reporting a location's status (LOADING / LOADED / ERROR, with its snapshot or error) to the
// control plane. Sent again with backoff while refused, in the background, until a newer
// report for the same location replaces it.
import type { Logger } from '../shared/logger.js';
import { backoffDelay } from '../shared/backoff.js';
import type { ControlPlaneClient } from './control-plane-client.js';
import { snapshotForOlderControlPlane } from './older-control-plane.js';

/** Sends of one location report before giving up (about 2 minutes with backoff). */
const REPORT_ATTEMPTS = 30;

export type LocationStatus = 'LOADING' | 'LOADED' | 'ERROR';

export class LocationReporter {
  /** The latest report per location; a pending retry is dropped once a newer one replaces it. */
  private readonly latestReport = new Map<string, object>();

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
    const input = { agentId: this.opts.agentId(), location, version, status, ...extra };
    this.latestReport.set(location, input);
    const send = async (n: number): Promise<void> => {
      try {
        await this.opts.controlPlane.reportCodeLocation(input);
      } catch (err) {
        const why = (err as Error).message;
        // A control plane older than this agent refuses a snapshot it cannot read: send what it reads.
        const older = input.snapshot === undefined ? undefined : snapshotForOlderControlPlane(input.snapshot, why);
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
