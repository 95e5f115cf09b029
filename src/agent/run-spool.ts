// A run's spool on this host, shipped to the control plane: the SpoolShipper (what to send,
// exactly once) plus the SpoolWatch (wake on a write) and the termination record the launcher
// leaves in the spool directory. Implements the activities' SpoolPort (activities/ports.ts;
// wired by the composition root).
import { existsSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../shared/logger.js';
import { SPOOL_FILES } from '../shared/run-events.js';
import type { ControlPlaneClient, RunCursor } from './control-plane-client.js';
import { SpoolShipper } from './spool-shipper.js';
import { eventLinesAfter } from './spool-lines.js';
import { SpoolWatch } from './spool-watch.js';
import { signalSpoolWriters, spoolWriters } from './spool-writers.js';

export interface RunSpoolsOptions {
  controlPlane: Pick<ControlPlaneClient, 'appendRunEventLines' | 'appendComputeLogs'>;
  /** The agent holding the runs' launches: the only one whose appends the control plane accepts. */
  agentId: () => string;
  /** Directory of a run's spool (the launcher's choice). */
  spoolDir: (runId: string) => string;
  logger: Logger;
}

export function createRunSpools(opts: RunSpoolsOptions) {
  return {
    eventLinesAfter: (runId: string, afterSeq: number, max: number) =>
      eventLinesAfter(opts.spoolDir(runId), afterSeq, max),
    open(runId: string, cursor: RunCursor) {
      const dir = opts.spoolDir(runId);
      const shipper = new SpoolShipper(
        runId,
        opts.agentId(),
        dir,
        opts.controlPlane,
        opts.logger.child({ runId }),
        cursor,
      );
      // Made at the first wait, not here: a one-pass ship needs no watch. That first wait returns
      // at once, so a write between the last pass and the watch's start is not missed.
      let watch: SpoolWatch | undefined;
      let woken = false;
      return {
        shipOnce: (final: boolean) => shipper.shipOnce(final),
        get lastSeq() {
          return shipper.lastSeq;
        },
        get maxSeqInFile() {
          return shipper.maxSeqInFile;
        },
        get sawTerminalEvent() {
          return shipper.sawTerminalEvent;
        },
        get endStatus() {
          return shipper.endStatus;
        },
        waitForWrite(ms: number, signal: AbortSignal): Promise<void> {
          if (watch) return watch.wait(ms, signal);
          watch = new SpoolWatch(dir);
          if (woken) watch.poke();
          return Promise.resolve();
        },
        get watching() {
          return watch?.live ?? false;
        },
        wakeOn(event: Promise<unknown>): void {
          const poke = (): void => {
            woken = true;
            watch?.poke();
          };
          event.then(poke, poke);
        },
        terminationRecorded: () => existsSync(join(dir, SPOOL_FILES.terminated)),
        space: () => ({ dir, free: freeBytes(dir) }),
        writers: () => spoolWriters(dir).map((w) => w.pid),
        signalWriters: (signal: NodeJS.Signals) => signalSpoolWriters(spoolWriters(dir), signal),
        close: () => watch?.close(),
      };
    },
  };
}

/** Bytes an unprivileged writer may still use on the filesystem holding `dir` (statfs), if it can be told. */
function freeBytes(dir: string): number | undefined {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}
