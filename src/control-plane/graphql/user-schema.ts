// The user API (/graphql): code locations and their definitions, runs with events and compute
// logs, agents, work items, schedule/sensor state, token admin, and a run-events subscription (SSE).
import { readFileSync } from 'node:fs';
import { createSchema } from 'graphql-yoga';
import type {
  MutationCreateTokenArgs,
  MutationDeleteCodeLocationArgs,
  MutationDeployCodeLocationArgs,
  MutationLaunchRunArgs,
  MutationQueryCodeLocationArgs,
  MutationReloadCodeLocationArgs,
  MutationRevokeTokenArgs,
  MutationSetScheduleStateArgs,
  MutationSetSensorStateArgs,
  MutationTerminateRunArgs,
  MutationTestScheduleArgs,
  MutationTestSensorArgs,
  QueryAuditLogArgs,
  QueryPartitionKeysArgs,
  QueryCodeLocationArgs,
  QueryRunArgs,
  QueryRunsArgs,
  QueryWorkItemArgs,
  QueryWorkItemsArgs,
  RunComputeLogsArgs,
  RunEventsArgs,
  ScheduleTicksArgs,
  SensorTicksArgs,
  SubscriptionRunEventsArgs,
} from '../../gen/graphql/user.js';
import { OutpostError } from '../../shared/errors.js';
import { isTerminal, type RunStatus } from '../core/run-state.js';
import { strictConfigSchema } from '../core/strict-config.js';
import { runDurationMs } from '../../shared/run-timing.js';
import { launchErrorOf, launchSelectionOf, type RunSelection } from '../store/work-items.js';
import { reachableLocations } from '../store/agents.js';
import { listAgents } from '../store/agents.js';
import { readComputeLogs } from '../store/compute-logs.js';
import { listTicks } from '../store/instigators.js';
import { getLocation, listLocations, requireLocation, type LocationView } from '../store/locations.js';
import { deleteCodeLocation, deployCodeLocation, reloadCodeLocation } from '../services/locations-service.js';
import { roleAtLeast } from '../core/roles.js';
import { specForReaders } from '../core/hidden-env.js';
import { checkDeploy } from '../services/deploy-policy.js';
import { listAudit } from '../store/audit-log.js';
import { createSigninCode } from '../store/sessions.js';
import { audited, restricted, roleOf } from './guard.js';
import { authenticate } from '../http/auth.js';
import { listRunEvents, type StoredRunEvent } from '../store/run-events.js';
import { getRun, getRunStatus, listRuns, type RunView } from '../store/runs.js';
import { createToken, listTokens, revokeToken } from '../store/tokens.js';
import { getWorkItem, listWorkItems } from '../store/work-items.js';
import { queryCodeLocation } from '../services/query-location.js';
import { partitionKeys, PartitionSearchCache } from '../services/partition-keys.js';
import type { Store } from '../store/store.js';
import {
  schedulesOf,
  sensorsOf,
  setScheduleState,
  setSensorState,
  type ScheduleView,
  type SensorView,
} from '../services/instigators-service.js';
import { launchRun, terminateRun, type LaunchRunInput } from '../services/runs-service.js';
import { checkLaunchInput, checkLocationSpec, checkQueryInput, checkSensorCursor } from '../core/input-rules.js';
import { pageSize, type ApiContext } from './context.js';
import { CodeLocationQueryValues, ComputeLogStreamValues, TokenKindValues } from './enum-values.js';
import { JSONScalar } from './scalars.js';
import { testSchedule, testSensor } from '../services/tick-test.js';
import { locationKind } from '../services/launch-target.js';
import { assetsOf, withAssetKeys, type AssetView } from '../services/assets-view.js';

/** The shape of a runs cursor (a run id: `run_` + 24 base-32 characters). */
const RUN_CURSOR = /^run_[0-9a-z]{24}$/;
/** An audit entry id (ids.ts); checked by form only, as a pruned entry's id still pages on. */
const AUDIT_CURSOR = /^aud_[0-9a-z]{24}$/;
const notACursor = (): OutpostError =>
  new OutpostError('INVALID_ARGUMENT', {
    detail: '`after` is not a cursor from this API (pass a previous pageInfo.endCursor)',
  });

/** Most events one subscription pass reads; it loops until caught up. */
const SUBSCRIPTION_PAGE = 1000;
/** Re-check interval when no wake-up arrives (another replica stored the events). */
const SUBSCRIPTION_RECHECK_MS = 1000;

/** A run's selections, read once per run object (both fields of one run in a request share it). */
const selections = new WeakMap<object, Promise<RunSelection>>();
function selectionOf(store: Store, run: Parent<RunView>): Promise<RunSelection> {
  let p = selections.get(run);
  if (!p) {
    p = launchSelectionOf(store.db, run.id);
    selections.set(run, p);
  }
  return p;
}

/**
 * Streams a run's events from `afterSeq`, ending once the run is finished and all are sent.
 * `reauthenticate` throws once the caller's token is revoked or its session ended: it runs
 * before every pass after the first, so a stream opened before then delivers nothing stored
 * after it (a stream lives as long as its run, up to a day).
 */
export async function* runEventStream(
  store: Store,
  runId: string,
  afterSeq: number,
  signal?: AbortSignal,
  reauthenticate?: () => Promise<unknown>,
): AsyncGenerator<StoredRunEvent> {
  if (!(await getRunStatus(store.db, runId))) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
  // One public sequence (1..N, no gap, ENGINE events included): the last seq sent is the cursor.
  let after = afterSeq;
  let finishedPasses = 0;
  // Bounded by the run finishing (or the client leaving); a day of 1 s rechecks at most.
  for (let pass = 0; pass < 86_400 && !signal?.aborted; pass++) {
    if (pass > 0) await reauthenticate?.();
    const events = await listRunEvents(store, runId, after, SUBSCRIPTION_PAGE);
    for (const e of events) {
      after = e.seq;
      yield e;
    }
    if (events.length === SUBSCRIPTION_PAGE) continue;
    const status = await getRunStatus(store.db, runId);
    // One more read after seeing the terminal status catches events stored just before it.
    if (!status || isTerminal(status)) {
      if (++finishedPasses > 1) return;
      continue;
    }
    await store.signals.waitFor({ runId }, SUBSCRIPTION_RECHECK_MS, signal);
  }
}

/**
 * An answer that took a wait (an agent's, up to `maxWaitMs`) goes out only if the caller is still
 * who it was: a token revoked or a session ended meanwhile gets UNAUTHENTICATED instead.
 */
async function answerIfStillSignedIn<T>(c: ApiContext, answer: Promise<T>): Promise<T> {
  // A refusal is an answer too (user code's words in it): it waits for the same check.
  const settled = await answer.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  await authenticate(c.store, c.request, 'user');
  if ('err' in settled) throw settled.err;
  return settled.value;
}

/** The user API's schema source (user.graphql, next to this module; the Docker image copies src/). */
const USER_SDL = readFileSync(new URL('./user.graphql', import.meta.url), 'utf8');

type Parent<T> = T;

/** An input object without its null fields, one level down too (nested inputs such as `dagster`). */
function withoutNulls(input: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === null || v === undefined) continue;
    out[k] =
      typeof v === 'object' && !Array.isArray(v) && k !== 'env' && k !== 'runConfig'
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined),
          )
        : v;
  }
  return out;
}

export function createUserSchema() {
  const partitionSearches = new PartitionSearchCache();
  return createSchema<ApiContext>({
    typeDefs: USER_SDL,
    resolvers: {
      JSON: JSONScalar,
      TokenKind: TokenKindValues,
      ComputeLogStream: ComputeLogStreamValues,
      CodeLocationQuery: CodeLocationQueryValues,
      UserRole: { VIEWER: 'VIEWER', LAUNCHER: 'LAUNCHER', EDITOR: 'EDITOR', ADMIN: 'ADMIN' },
      Query: {
        codeLocations: (_: unknown, __: unknown, { store }: ApiContext) => listLocations(store.db),
        codeLocation: (_: unknown, { name }: QueryCodeLocationArgs, { store }: ApiContext) =>
          getLocation(store.db, name),
        partitionKeys: restricted('partitionKeys', (_: unknown, a: QueryPartitionKeysArgs, c: ApiContext) => {
          // A unit per field, as a mutation takes: aliases in one request may each ask an agent.
          c.requestBudget?.take(c.principal.id);
          return answerIfStillSignedIn(
            c,
            partitionKeys(
              c.store,
              partitionSearches,
              {
                location: a.location,
                job: a.job,
                search: a.search ?? undefined,
                offset: a.offset ?? undefined,
                first: a.first ?? undefined,
              },
              Math.min(a.waitMs ?? 10_000, c.limits.maxWaitMs),
              c.request.signal,
              c.limits.maxWaitMs,
            ),
          );
        }),
        async runs(_: unknown, a: QueryRunsArgs, { store, limits }: ApiContext) {
          const first = pageSize(a.first, 50, limits);
          // The cursor is a run id this API handed out; anything else is an error, not an empty page.
          if (a.after != null && (!RUN_CURSOR.test(a.after) || !(await getRun(store.db, a.after)))) {
            throw notACursor();
          }
          const { runs, hasNextPage } = await listRuns(store, a.filter ?? {}, first, a.after);
          return {
            edges: runs.map((r) => ({ cursor: r.id, node: r })),
            nodes: runs,
            pageInfo: { hasNextPage, endCursor: runs.at(-1)?.id ?? null },
          };
        },
        run: (_: unknown, { id }: QueryRunArgs, { store }: ApiContext) => getRun(store.db, id),
        agents: (_: unknown, __: unknown, { store }: ApiContext) => listAgents(store),
        workItems: (_: unknown, a: QueryWorkItemsArgs, { store, limits }: ApiContext) =>
          listWorkItems(store, a.filter ?? {}, pageSize(a.first, 100, limits)),
        tokens: restricted('tokens', (_: unknown, __: unknown, { store }: ApiContext) => listTokens(store)),
        me: (_: unknown, __: unknown, { principal }: ApiContext) => principal,
        auditLog: restricted('auditLog', async (_: unknown, a: QueryAuditLogArgs, { store, limits }: ApiContext) => {
          if (a.after != null && !AUDIT_CURSOR.test(a.after)) throw notACursor();
          const { entries, hasNextPage } = await listAudit(
            store,
            a.filter ?? {},
            pageSize(a.first, 50, limits),
            a.after,
          );
          return {
            edges: entries.map((e) => ({ cursor: e.id, node: e })),
            nodes: entries,
            pageInfo: { hasNextPage, endCursor: entries.at(-1)?.id ?? null },
          };
        }),
        workItem: (_: unknown, { id }: QueryWorkItemArgs, { store }: ApiContext) => getWorkItem(store.db, id),
      },
      Mutation: {
        launchRun: audited(
          'launchRun',
          (a: MutationLaunchRunArgs) =>
            `${a.input.location}/${a.input.job ?? `assets ${(a.input.assetSelection ?? []).join(',')}`}`,
          (_, { input }, { store, limits }) => {
            checkLaunchInput(input, limits);
            // JSON fields arrive as `unknown`; launchRun parses the input (LaunchInputSchema).
            return launchRun(store, input as LaunchRunInput, limits);
          },
        ),
        terminateRun: audited(
          'terminateRun',
          (a: MutationTerminateRunArgs) => a.id,
          (_, { id }, { store }) => terminateRun(store, id),
        ),
        deployCodeLocation: audited(
          'deployCodeLocation',
          (a: MutationDeployCodeLocationArgs) => a.input.name,
          (_, { input }, ctx) => {
            const spec = withoutNulls(input);
            checkLocationSpec(spec);
            checkDeploy(spec, roleOf(ctx), ctx.deployPolicy);
            return deployCodeLocation(ctx.store, spec);
          },
        ),
        queryCodeLocation: audited(
          'queryCodeLocation',
          (a: MutationQueryCodeLocationArgs) => a.input.location,
          (_, a, c) => {
            checkQueryInput(a.input, c.limits);
            return answerIfStillSignedIn(
              c,
              queryCodeLocation(
                c.store,
                withoutNulls(a.input),
                Math.min(a.waitMs ?? 10_000, c.limits.maxWaitMs),
                c.request.signal,
              ),
            );
          },
        ),
        reloadCodeLocation: audited(
          'reloadCodeLocation',
          (a: MutationReloadCodeLocationArgs) => a.name,
          async (_, { name }, ctx) => {
            // A reload re-runs the stored spec; an EDITOR may not reload what it could not deploy.
            checkDeploy((await requireLocation(ctx.store.db, name)).spec, roleOf(ctx), ctx.deployPolicy);
            return reloadCodeLocation(ctx.store, name);
          },
        ),
        deleteCodeLocation: audited(
          'deleteCodeLocation',
          (a: MutationDeleteCodeLocationArgs) => a.name,
          (_, { name }, { store }) => deleteCodeLocation(store, name),
        ),
        testSchedule: audited(
          'testSchedule',
          (a: MutationTestScheduleArgs) => `${a.input.location}/${a.input.name}`,
          (_, { input }, c) => answerIfStillSignedIn(c, testSchedule(c.store, input, c.request.signal)),
        ),
        testSensor: audited(
          'testSensor',
          (a: MutationTestSensorArgs) => `${a.input.location}/${a.input.name}`,
          (_, { input }, c) => {
            checkSensorCursor(input.cursor);
            return answerIfStillSignedIn(c, testSensor(c.store, input, c.request.signal));
          },
        ),
        setScheduleState: audited(
          'setScheduleState',
          (a: MutationSetScheduleStateArgs) => `${a.location}/${a.name} ${a.state}`,
          (_, a, { store }) => setScheduleState(store, a.location, a.name, a.state),
        ),
        setSensorState: audited(
          'setSensorState',
          (a: MutationSetSensorStateArgs) => `${a.location}/${a.name} ${a.state}`,
          (_, a, { store }) => setSensorState(store, a.location, a.name, a.state),
        ),
        createToken: audited(
          'createToken',
          (a: MutationCreateTokenArgs) =>
            `${a.kind} ${a.name}${a.role ? ` ${a.role}` : ''}${a.replaces ? ` replaces ${a.replaces}` : ''}`,
          async (_, a, ctx) => {
            const role = a.kind === 'user' ? (a.role ?? 'VIEWER') : undefined;
            if (a.kind === 'agent' && a.role) {
              throw new OutpostError('INVALID_ARGUMENT', { detail: 'AGENT tokens carry no role; omit `role`' });
            }
            if (role && !roleAtLeast(roleOf(ctx), role)) {
              throw new OutpostError('ROLE_ESCALATION', { detail: `this token is ${roleOf(ctx)}; asked for ${role}` });
            }
            const t = await createToken(ctx.store, a.kind, a.name, {
              ...(role ? { role } : {}),
              ...(a.replaces ? { replaces: a.replaces } : {}),
              createdBy: ctx.principal.id,
            });
            return { id: t.id, kind: a.kind, name: a.name, role: t.info.role, token: t.token };
          },
        ),
        revokeToken: audited(
          'revokeToken',
          (a: MutationRevokeTokenArgs) => a.id,
          (_, { id }, { store }) => revokeToken(store, id),
        ),
        createSignInLink: audited(
          'createSignInLink',
          () => null,
          async (_, __: unknown, { store, principal }) => {
            const { code, expiresAt } = await createSigninCode(store, principal.id);
            return { code, path: `/signin#code=${code}`, expiresAt };
          },
        ),
      },
      Subscription: {
        runEvents: {
          subscribe: (_: unknown, a: SubscriptionRunEventsArgs, c: ApiContext) =>
            c.subscriptions.hold(
              c.principal.id,
              runEventStream(c.store, a.runId, a.afterSeq ?? 0, c.request.signal, () =>
                authenticate(c.store, c.request, 'user'),
              ),
            ),
          resolve: async (e: StoredRunEvent, a: SubscriptionRunEventsArgs, { store }: ApiContext) =>
            (await withAssetKeys(store, a.runId, [e]))[0],
        },
      },
      CodeLocation: {
        spec: (l: Parent<LocationView>) => specForReaders(l.spec),
        kind: (l: Parent<LocationView>) => locationKind(l.spec, l.snapshot),
        dagsterVersion: (l: Parent<LocationView>) => l.snapshot?.dagsterVersion ?? null,
        assets: (l: Parent<LocationView>, _: unknown, { store }: ApiContext) => assetsOf(store, l),
        jobs: (l: Parent<LocationView>) => {
          const byLocation = locationKind(l.spec, l.snapshot) === 'DAGSTER';
          return (l.snapshot?.jobs ?? []).map((j) => ({ ...j, checkedByLocation: byLocation }));
        },
        reachable: async (l: Parent<LocationView>, _: unknown, { store }: ApiContext) =>
          (await reachableLocations(store)).has(l.name),
        schedules: (l: Parent<LocationView>, _: unknown, { store }: ApiContext) => schedulesOf(store, l),
        sensors: (l: Parent<LocationView>, _: unknown, { store }: ApiContext) => sensorsOf(store, l),
        partitions: (l: Parent<LocationView>) => l.snapshot?.partitions ?? [],
      },
      Asset: {
        checks: (a: Parent<AssetView>) => a.checks(),
      },
      Schedule: {
        ticks: (s: Parent<ScheduleView>, a: ScheduleTicksArgs, { store, limits }: ApiContext) =>
          listTicks(store, s.location, 'SCHEDULE', s.name, pageSize(a.first, 20, limits)),
      },
      Tick: {
        timestamp: (t: Parent<{ tickTime: number }>) => t.tickTime,
      },
      Sensor: {
        ticks: (s: Parent<SensorView>, a: SensorTicksArgs, { store, limits }: ApiContext) =>
          listTicks(store, s.location, 'SENSOR', s.name, pageSize(a.first, 20, limits)),
      },
      Job: {
        // Dagster checks its own config (launch-target.ts): its converted schema is shown as converted.
        configSchema: (j: Parent<{ configSchema: Record<string, unknown>; checkedByLocation?: boolean }>) =>
          j.checkedByLocation ? j.configSchema : strictConfigSchema(j.configSchema),
      },
      Run: {
        lastSeq: (r: Parent<RunView>) => r.eventSeq,
        durationMs: (r: Parent<RunView>, _: unknown, { store }: ApiContext) => runDurationMs(r, store.now()),
        launchError: (r: Parent<RunView>, _: unknown, { store }: ApiContext) => launchErrorOf(store.db, r.id),
        assetSelection: async (r: Parent<RunView>, _: unknown, { store }: ApiContext) =>
          (await selectionOf(store, r)).assetSelection,
        opSelection: async (r: Parent<RunView>, _: unknown, { store }: ApiContext) =>
          (await selectionOf(store, r)).opSelection,
        events: async (r: Parent<RunView>, a: RunEventsArgs, { store, limits }: ApiContext) =>
          withAssetKeys(
            store,
            r.id,
            await listRunEvents(store, r.id, a.afterSeq ?? 0, pageSize(a.first, 1000, limits)),
          ),
        computeLogs: (r: Parent<RunView>, a: RunComputeLogsArgs, { store }: ApiContext) => {
          const after = a.afterOffset ?? 0;
          if (!Number.isInteger(after) || after < 0) {
            throw new OutpostError('INVALID_ARGUMENT', { detail: '`afterOffset` must be a non-negative integer' });
          }
          return readComputeLogs(store, r.id, a.stream, after);
        },
      },
    },
  });
}

export type { RunStatus };
