// Activities that ask a location's code server something over gRPC: definitions (sync),
// schedule and sensor evaluation, partition and execution-plan queries. Each call has a
// deadline; UNAVAILABLE (the server is restarting) is retried here against whatever server
// the manager is serving by then, and again by Temporal's retry policy.
import type {
  EvaluateScheduleResponse,
  EvaluateSensorResponse,
  GetExecutionPlanResponse,
  GetPartitionConfigResponse,
  GetPartitionNamesResponse,
  GetPartitionTagsResponse,
  RunRequest as GrpcRunRequest,
  UserCodeError,
} from '../src/gen/outpost/codeserver/v1/code_server.js';
import { unary, type CodeServerClient } from '../src/agent/code-server-client.js';
import { formatUserCodeError } from '../src/agent/definitions-snapshot.js';
import { backoffDelay, sleep } from '../src/agent/backoff.js';
import { OutpostError, isOutpostError } from '../src/shared/errors.js';
import type { RunRequest, WorkItemPayload, WorkItemResult } from '../src/shared/work-items.js';
import { coded, type ActivityDeps } from './deps.js';

/** Deadline of one user-code call (schedules and sensors run user functions). */
const CALL_TIMEOUT_MS = 60_000;
const UNAVAILABLE_ATTEMPTS = 4;

function userError(e: UserCodeError): OutpostError {
  return new OutpostError('USER_CODE_ERROR', { detail: formatUserCodeError(e) });
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail: `${what} is not a JSON object` });
}

export function toRunRequest(r: GrpcRunRequest): RunRequest {
  return {
    job: r.job,
    runConfig: parseJsonObject(r.runConfigJson, `run config of a ${r.job} run request`),
    tags: r.tags,
    ...(r.runKey ? { runKey: r.runKey } : {}),
    ...(r.partitionKey ? { partitionKey: r.partitionKey } : {}),
  };
}

export function createCodeLocationActivities(deps: ActivityDeps) {
  const waitMs = deps.codeServerWaitMs ?? 60_000;

  /** Calls the location's server, retrying UNAVAILABLE with a fresh client (the server may have restarted). */
  async function withServer<T>(location: string, fn: (client: CodeServerClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { client } = await deps.codeServers.client(location, waitMs);
      try {
        return await fn(client);
      } catch (err) {
        if (!isOutpostError(err, 'CODE_SERVER_UNAVAILABLE') || attempt + 1 >= UNAVAILABLE_ATTEMPTS) throw err;
        deps.logger.warn({ location, attempt }, 'code server unavailable; retrying');
        await sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 5_000 }));
      }
    }
  }

  return {
    /** Ensures the location's server runs at `version` (or later) and reports its definitions. */
    syncCodeLocation(payload: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>> {
      return coded(async () => {
        await deps.codeServers.refresh();
        return deps.codeServers.settled(payload.location, payload.version, 180_000);
      });
    },

    evaluateSchedule(payload: WorkItemPayload<'EVALUATE_SCHEDULE'>): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>> {
      return coded(async () => {
        const res = await withServer(payload.location, (c) =>
          unary<object, EvaluateScheduleResponse>(
            c,
            'evaluateSchedule',
            { schedule: payload.schedule, tickTimeMs: payload.tickTimeMs },
            CALL_TIMEOUT_MS,
          ),
        );
        if (res.error) throw userError(res.error);
        return {
          runRequests: res.runRequests.map(toRunRequest),
          ...(res.skipReason ? { skipReason: res.skipReason } : {}),
        };
      });
    },

    evaluateSensor(payload: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>> {
      return coded(async () => {
        const res = await withServer(payload.location, (c) =>
          unary<object, EvaluateSensorResponse>(
            c,
            'evaluateSensor',
            {
              sensor: payload.sensor,
              cursor: payload.cursor ?? '',
              lastTickTimeMs: payload.lastTickTimeMs ?? 0,
              lastRunKey: payload.lastRunKey ?? '',
            },
            CALL_TIMEOUT_MS,
          ),
        );
        if (res.error) throw userError(res.error);
        return {
          runRequests: res.runRequests.map(toRunRequest),
          ...(res.hasCursor ? { cursor: res.cursor } : {}),
          ...(res.skipReason ? { skipReason: res.skipReason } : {}),
        };
      });
    },

    queryCodeLocation(payload: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>> {
      return coded(async () => {
        const { job, partitionKey = '' } = payload;
        switch (payload.query) {
          case 'partitionNames': {
            const r = await withServer(payload.location, (c) =>
              unary<object, GetPartitionNamesResponse>(c, 'getPartitionNames', { job, nowMs: 0 }, CALL_TIMEOUT_MS),
            );
            if (r.error) throw userError(r.error);
            return { answer: r.names };
          }
          case 'partitionConfig': {
            const r = await withServer(payload.location, (c) =>
              unary<object, GetPartitionConfigResponse>(
                c,
                'getPartitionConfig',
                { job, partitionKey },
                CALL_TIMEOUT_MS,
              ),
            );
            if (r.error) throw userError(r.error);
            return { answer: parseJsonObject(r.runConfigJson, 'partition config') };
          }
          case 'partitionTags': {
            const r = await withServer(payload.location, (c) =>
              unary<object, GetPartitionTagsResponse>(c, 'getPartitionTags', { job, partitionKey }, CALL_TIMEOUT_MS),
            );
            if (r.error) throw userError(r.error);
            return { answer: r.tags };
          }
          case 'executionPlan': {
            const r = await withServer(payload.location, (c) =>
              unary<object, GetExecutionPlanResponse>(
                c,
                'getExecutionPlan',
                { job, opSelection: payload.opSelection ?? [] },
                CALL_TIMEOUT_MS,
              ),
            );
            if (r.error) throw userError(r.error);
            return { answer: r.steps.map((s) => ({ key: s.key, dependsOn: s.dependsOn, level: s.level })) };
          }
        }
      });
    },
  };
}
