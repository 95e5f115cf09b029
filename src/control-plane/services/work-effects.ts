// What completing or failing a work item does to the rest of the state, inside the same
// transaction as the status change (so it happens exactly once): ticks create runs, sensor
// cursors advance, failed launches fail their run, failed syncs mark the location ERROR.
import { codeLocationKind, type WorkItemResult, type RunRequest } from '../../shared/work-items.js';
import { isOutpostError, OutpostError } from '../../shared/errors.js';
import { checkLaunchInput, checkRunRequests, checkSensorCursor } from '../core/input-rules.js';
import { DEFAULT_API_LIMITS, type ApiLimits } from '../limits.js';
import { isTerminal, type RunStatus, RUN_STATUSES } from '../core/run-state.js';
import { finishTickForItem, updateInstigator } from '../store/instigators.js';
import { getLocation, markLocationError } from '../store/locations.js';
import { appendEngineEvent, getRun, setRunStatus, type CreateRunInput } from '../store/runs.js';
import type { Store } from '../store/store.js';
import type { Exec, WorkItemView } from '../store/work-items.js';
import type { LocationSnapshot } from '../../shared/location-snapshot.js';
import { requestedAssets } from './launch-target.js';
import { createRun } from './runs-service.js';

/** The limits a tick's runs are held to, as a launch's are. */
export type RunInputLimits = Pick<ApiLimits, 'maxRunConfigBytes' | 'maxRunTags' | 'maxRunTagsBytes'>;

/** Returns true when new work was enqueued (the caller wakes pollers after commit). */
export async function applyCompletion(
  trx: Exec,
  store: Store,
  item: WorkItemView,
  result: unknown,
  agentId: string,
  limits: RunInputLimits = DEFAULT_API_LIMITS,
): Promise<boolean> {
  const kind = item.kind;
  const p = item.payload;
  // testSchedule / testSensor: the answer is the whole effect (no run, no cursor, no tick).
  if (isDryRun(item)) return false;
  switch (kind) {
    case 'EVALUATE_SCHEDULE': {
      const r = result as WorkItemResult<'EVALUATE_SCHEDULE'>;
      const loc = String(p.location);
      const name = String(p.schedule);
      const tick = Number(p.tickTimeMs);
      const runs = await tickRuns(
        trx,
        loc,
        r.runRequests,
        (req, i) => {
          return `schedule:${loc}:${name}:${tick}:${req.runKey ?? i}`;
        },
        { 'outpost/schedule': name, 'outpost/tick': String(tick) },
        limits,
      );
      if (!Array.isArray(runs)) {
        await finishTickForItem(trx, store, item.id, { status: 'FAILURE', error: `${runs.code}: ${runs.message}` });
        return false;
      }
      const runIds = await createRuns(trx, store, runs);
      await finishTickForItem(
        trx,
        store,
        item.id,
        runIds.length
          ? { status: 'SUCCESS', runIds }
          : { status: 'SKIPPED', skipReason: r.skipReason ?? 'no run requests' },
      );
      return runIds.length > 0;
    }
    case 'EVALUATE_SENSOR': {
      const r = result as WorkItemResult<'EVALUATE_SENSOR'>;
      const loc = String(p.location);
      const name = String(p.sensor);
      // The cursor is the next tick's workflow input: one past the limit would fail every later
      // tick (Temporal refuses inputs past 2 MB). This tick fails instead, naming the limit; its
      // run requests are not made and the cursor stays where it was.
      // So do run requests past a limit (tickRuns): none of them is made.
      // Without a run key a request always runs; with one, once per sensor and key, ever.
      const runs =
        cursorTooLarge(r.cursor) ??
        (await tickRuns(
          trx,
          loc,
          r.runRequests,
          (req) => (req.runKey === undefined ? undefined : `sensor:${loc}:${name}:${req.runKey}`),
          { 'outpost/sensor': name },
          limits,
        ));
      if (!Array.isArray(runs)) {
        await finishTickForItem(trx, store, item.id, { status: 'FAILURE', error: `${runs.code}: ${runs.message}` });
        return false;
      }
      const runIds = await createRuns(trx, store, runs);
      if (r.cursor !== undefined) {
        await updateInstigator(trx, store, { location: loc, kind: 'SENSOR', name }, { cursor: r.cursor });
      }
      await finishTickForItem(trx, store, item.id, {
        ...(runIds.length
          ? { status: 'SUCCESS' as const, runIds }
          : { status: 'SKIPPED' as const, skipReason: r.skipReason ?? 'no new run requests' }),
        ...(r.cursor !== undefined ? { cursor: r.cursor } : {}),
      });
      return runIds.length > 0;
    }
    case 'SYNC_CODE_LOCATION': {
      const r = result as WorkItemResult<'SYNC_CODE_LOCATION'>;
      if (r.status === 'ERROR')
        await markLocationError(trx, store, String(p.location), Number(p.version), r.error ?? 'load failed');
      return false;
    }
    case 'LAUNCH_RUN': {
      // Status comes from events; a terminal status here covers a worker that died without one.
      const status = (result as WorkItemResult<'LAUNCH_RUN'>).status as RunStatus;
      if (item.runId && (RUN_STATUSES as readonly string[]).includes(status) && isTerminal(status)) {
        const { changed } = await setRunStatus(trx, store, item.runId, status, { strict: false, agentId });
        if (changed)
          await appendEngineEvent(trx, store, item.runId, `run ended ${status} (reported by agent ${agentId})`, 'info');
      }
      return false;
    }
    default:
      return false;
  }
}

/** The error a sensor's returned cursor past maxSensorCursorBytes makes, else undefined. */
function cursorTooLarge(cursor: string | null | undefined): OutpostError | undefined {
  try {
    checkSensorCursor(cursor);
    return undefined;
  } catch (err) {
    if (isOutpostError(err, 'INPUT_TOO_LARGE')) return err;
    throw err;
  }
}

export async function applyFailure(
  trx: Exec,
  store: Store,
  item: WorkItemView,
  error: { code: string; message: string },
): Promise<void> {
  const p = item.payload;
  const reason = `${error.code}: ${error.message}`;
  if (isDryRun(item)) return;
  switch (item.kind) {
    case 'LAUNCH_RUN': {
      if (!item.runId) return;
      const run = await getRun(trx, item.runId);
      if (!run || isTerminal(run.status)) return;
      const to: RunStatus = run.status === 'CANCELING' ? 'CANCELED' : 'FAILURE';
      await setRunStatus(trx, store, item.runId, to, { strict: false });
      await appendEngineEvent(trx, store, item.runId, `launch failed: ${reason}`, 'error', { code: error.code });
      return;
    }
    case 'EVALUATE_SCHEDULE':
    case 'EVALUATE_SENSOR':
      await finishTickForItem(trx, store, item.id, { status: 'FAILURE', error: reason });
      return;
    case 'SYNC_CODE_LOCATION':
      await markLocationError(trx, store, String(p.location), Number(p.version), reason);
      return;
    default:
      return;
  }
}

/**
 * The runs a tick's requests make, as they will be stored, or the error that fails the tick:
 * too many requests, a run key past its limit, a job the location lacks, or a run's config or
 * tags past a launch's limits (the requests are user code's answer, through the agent).
 */
async function tickRuns(
  trx: Exec,
  location: string,
  requests: RunRequest[],
  dedupeKey: (req: RunRequest, index: number) => string | undefined,
  originTags: Record<string, string>,
  limits: RunInputLimits,
): Promise<CreateRunInput[] | OutpostError> {
  try {
    checkRunRequests(requests);
    const loc = requests.length ? await getLocation(trx, location) : undefined;
    const dagster = loc ? codeLocationKind(loc.spec) === 'DAGSTER' || loc.snapshot?.kind === 'dagster' : false;
    const snapshot = loc?.snapshot;
    const jobs = new Map(snapshot?.jobs.map((j) => [j.name, j]));
    return requests.map((req, i) => {
      const job = jobs.get(req.job);
      if (!job || !snapshot) {
        throw new OutpostError('UNKNOWN_JOB', {
          detail: `runRequests[${i}] names job ${JSON.stringify(req.job.slice(0, 64))}, which ${location} does not have`,
        });
      }
      const key = dedupeKey(req, i);
      // A Dagster job's run tags first, the request's over them, as Dagster's daemons order them.
      const tags: Record<string, string> = { ...job.runTags, ...req.tags, ...originTags };
      if (dagster) Object.assign(tags, dagsterOriginTags(originTags));
      // The run key, under one Outpost tag for every kind, and Dagster's own for Dagster code.
      if (req.runKey) tags['outpost/run_key'] = req.runKey;
      if (req.runKey && dagster) tags['dagster/run_key'] = req.runKey;
      if (req.partitionKey) tags['outpost/partition'] = req.partitionKey;
      const assets = req.assetSelection && selectedAssets(snapshot, location, req.job, req.assetSelection, i);
      checkLaunchInput({ runConfig: req.runConfig, tags, assetSelection: assets }, limits);
      return {
        location,
        job: req.job,
        runConfig: req.runConfig,
        tags,
        ...(key ? { dedupeKey: key } : {}),
        ...(assets ? { assetSelection: assets } : {}),
      };
    });
  } catch (err) {
    if (isOutpostError(err)) return err;
    throw err;
  }
}

/** requestedAssets, its refusal naming the request. */
function selectedAssets(
  snapshot: LocationSnapshot,
  location: string,
  job: string,
  selection: readonly string[],
  index: number,
): string[] | undefined {
  try {
    return requestedAssets(snapshot, location, job, selection);
  } catch (err) {
    if (!isOutpostError(err)) throw err;
    throw new OutpostError(err.errorName, {
      detail: `runRequests[${index}]: ${err.detail ?? err.message}`,
      ...(err.data ? { data: err.data } : {}),
    });
  }
}

async function createRuns(trx: Exec, store: Store, runs: CreateRunInput[]): Promise<string[]> {
  const ids: string[] = [];
  for (const input of runs) {
    const { run, created } = await createRun(trx, store, input);
    if (created) ids.push(run.id);
  }
  return ids;
}

const isDryRun = (item: WorkItemView): boolean =>
  (item.kind === 'EVALUATE_SCHEDULE' || item.kind === 'EVALUATE_SENSOR') && item.payload.dryRun === true;

/** The tags Dagster's own daemon puts on a run it launches for a schedule or sensor. */
function dagsterOriginTags(origin: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  if (origin['outpost/schedule']) out['dagster/schedule_name'] = origin['outpost/schedule'];
  const tick = origin['outpost/tick'];
  if (tick) out['dagster/scheduled_execution_time'] = pythonIsoUtc(Number(tick));
  if (origin['outpost/sensor']) out['dagster/sensor_name'] = origin['outpost/sensor'];
  return out;
}

/** Python's `datetime.isoformat()` of an aware UTC time (`…T02:00:00+00:00`, `.123000` if any ms). */
function pythonIsoUtc(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.replace('.000Z', '+00:00') : iso.replace('Z', '000+00:00');
}
