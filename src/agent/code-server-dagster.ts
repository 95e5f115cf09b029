// The Dagster flavour of the code-server manager's start: spawn one `dagster api grpc` for a
// location version, load it, and swap it in only once loaded. A load error (a Python error, a
// wrong interpreter or one without dagster, an unsupported version, an import that never ends)
// makes this version ERROR with the Python text and is not retried (it would fail the same way);
// an older server that still serves is left alone. Transport failures restart with backoff.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../shared/logger.js';
import type { DagsterLocation } from '../shared/work-items.js';
import type { Killer } from './code-server-spawn.js';
import type { LocationStatus } from './code-server-report.js';
import type { Slot } from './code-server-slot.js';
import { DagsterCodeServer, isDagsterLoadError, type DagsterCodeServerOptions } from './dagster/dagster-code-server.js';
import { isOutpostError } from '../shared/errors.js';

/** What the manager lends this start (all bound to the slot and version). */
export interface DagsterStartContext {
  stopped(): boolean;
  server: Omit<DagsterCodeServerOptions, 'logger'>;
  /** Pid record and tracking of a spawned child. */
  track(child: ChildProcess, kill: Killer): void;
  /** Makes the server the slot's serving process (stops the one it replaces). */
  serve(server: DagsterCodeServer): void;
  report(status: LocationStatus, extra: { snapshot?: unknown; error?: string }): Promise<void>;
  scheduleRestart(): void;
  notify(): void;
}

export async function startDagsterSlot(
  slot: Slot,
  dagster: DagsterLocation,
  version: number,
  log: Logger,
  ctx: DagsterStartContext,
): Promise<void> {
  let server: DagsterCodeServer | undefined;
  try {
    server = DagsterCodeServer.spawn(
      { ...ctx.server, logger: log },
      { ...slot.spec, dagster },
      version,
      (child, kill) => ctx.track(child, kill),
    );
    const loaded = await server.start(ctx.server.startTimeoutMs);
    if (slot.removed || ctx.stopped() || slot.version !== version) {
      await server.stop();
      return;
    }
    ctx.serve(server);
    slot.status = 'LOADED';
    delete slot.error;
    log.info({ socket: server.socketPath, jobs: loaded.snapshot.jobs.length }, 'Dagster code location loaded');
    await ctx.report('LOADED', { snapshot: loaded.snapshot });
  } catch (err) {
    if (server) void server.stop();
    // Coded ("OUTPOST_ERR_USER_CODE_LOAD_FAILED: ..."), as the UI and CLI show it to the user.
    const message = isOutpostError(err)
      ? `${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : String(err);
    const loadError = isDagsterLoadError(err);
    log.error({ err: message }, loadError ? 'Dagster code location failed to load' : 'Dagster code server failed');
    if (slot.version === version && !slot.removed && (loadError || !slot.current || slot.current.exited)) {
      slot.status = 'ERROR';
      slot.error = message;
      await ctx.report('ERROR', { error: message });
    }
    if (!loadError) ctx.scheduleRestart();
  } finally {
    if (slot.startingVersion === version) delete slot.startingVersion;
    ctx.notify();
  }
}
