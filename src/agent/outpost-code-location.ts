// Asks a location served by an Outpost code server (the SDK's gRPC server) something:
// definitions (sync), schedule and sensor evaluation, partition and execution-plan queries.
// Implements the activities' CodeLocationPort (activities/ports.ts; wired by the composition
// root). Each call has a deadline; UNAVAILABLE (the server is restarting) is retried here
// against whatever server the manager is serving by then, and again by Temporal's retry policy.
import type {
  EvaluateScheduleResponse,
  EvaluateSensorResponse,
  GetExecutionPlanResponse,
  GetPartitionConfigResponse,
  GetPartitionNamesResponse,
  GetPartitionTagsResponse,
  RunRequest as GrpcRunRequest,
  UserCodeError,
} from '../gen/outpost/codeserver/v1/code_server.js';
import { backoffDelay, sleep } from '../shared/backoff.js';
import { OutpostError, isOutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import {
  partitionNamesAnswer,
  type PartitionRunAnswer,
  type RunRequest,
  type WorkItemPayload,
  type WorkItemResult,
} from '../shared/work-items.js';
import { unary, type CodeServerClient } from './code-server-client.js';
import type { CodeServerManager } from './code-server-manager.js';
import { formatUserCodeError } from './definitions-snapshot.js';
import { skipReasonOf } from '../shared/message-limits.js';
import { inList } from './dagster/partition-membership.js';

/** Deadline of one user-code call (schedules and sensors run user functions). */
const CALL_TIMEOUT_MS = 60_000;
const UNAVAILABLE_ATTEMPTS = 4;
/** How long a sync waits for the location's server to report the asked version. */
const SYNC_WAIT_MS = 180_000;

export interface OutpostCodeLocationsOptions {
  codeServers: Pick<CodeServerManager, 'client' | 'refresh' | 'settled'>;
  logger: Logger;
  /** How long code queries wait for a starting code server; default 60 s. */
  codeServerWaitMs?: number;
}

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

export function createOutpostCodeLocations(opts: OutpostCodeLocationsOptions) {
  const { codeServers, logger } = opts;
  const waitMs = opts.codeServerWaitMs ?? 60_000;

  /** Calls the location's server, retrying UNAVAILABLE with a fresh client (the server may have restarted). */
  async function withServer<T>(location: string, fn: (client: CodeServerClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { client } = await codeServers.client(location, waitMs);
      try {
        return await fn(client);
      } catch (err) {
        if (!isOutpostError(err, 'CODE_SERVER_UNAVAILABLE') || attempt + 1 >= UNAVAILABLE_ATTEMPTS) throw err;
        logger.warn({ location, attempt }, 'code server unavailable; retrying');
        await sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 5_000 }));
      }
    }
  }

  /** One user-code call on the location's server, its UserCodeError thrown as USER_CODE_ERROR. */
  async function call<R extends { error?: UserCodeError | undefined }>(
    location: string,
    method: keyof CodeServerClient,
    request: object,
  ): Promise<R> {
    const res = await withServer(location, (c) => unary<object, R>(c, method, request, CALL_TIMEOUT_MS));
    if (res.error) throw userError(res.error);
    return res;
  }

  return {
    async sync(payload: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>> {
      await codeServers.refresh();
      return codeServers.settled(payload.location, payload.version, SYNC_WAIT_MS);
    },

    async evaluateSchedule(
      payload: WorkItemPayload<'EVALUATE_SCHEDULE'>,
    ): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>> {
      const res = await call<EvaluateScheduleResponse>(payload.location, 'evaluateSchedule', {
        schedule: payload.schedule,
        tickTimeMs: payload.tickTimeMs,
      });
      return {
        runRequests: res.runRequests.map(toRunRequest),
        ...skipReasonOf(res.skipReason),
      };
    },

    async evaluateSensor(payload: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>> {
      const res = await call<EvaluateSensorResponse>(payload.location, 'evaluateSensor', {
        sensor: payload.sensor,
        cursor: payload.cursor ?? '',
        lastTickTimeMs: payload.lastTickTimeMs ?? 0,
        lastRunKey: payload.lastRunKey ?? '',
      });
      return {
        runRequests: res.runRequests.map(toRunRequest),
        ...(res.hasCursor ? { cursor: res.cursor } : {}),
        ...skipReasonOf(res.skipReason),
      };
    },

    async query(payload: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>> {
      const { location, job, partitionKey = '' } = payload;
      switch (payload.query) {
        case 'partitionNames': {
          const r = await call<GetPartitionNamesResponse>(location, 'getPartitionNames', { job, nowMs: 0 });
          return { answer: partitionNamesAnswer(r.names, payload) };
        }
        case 'partitionRun': {
          // The control plane checked the key against the snapshot's keys, or (past the keys a
          // stored snapshot lists) leaves it to the code server, which refuses a key outside the set.
          const [config, tags] = await Promise.all([
            call<GetPartitionConfigResponse>(location, 'getPartitionConfig', { job, partitionKey }),
            call<GetPartitionTagsResponse>(location, 'getPartitionTags', { job, partitionKey }),
          ]).catch(async (err: unknown) => {
            if (!isOutpostError(err, 'INVALID_ARGUMENT')) throw err;
            const r = await call<GetPartitionNamesResponse>(location, 'getPartitionNames', { job, nowMs: 0 });
            const member = inList(r.names, partitionKey);
            if (member.in !== false) throw err;
            throw new OutpostError('UNKNOWN_PARTITION', {
              detail: `partition key ${JSON.stringify(partitionKey)} is not in the set of job ${job}: ${member.hint}`,
            });
          });
          const answer: PartitionRunAnswer = {
            runConfig: parseJsonObject(config.runConfigJson, 'partition config'),
            tags: tags.tags,
          };
          return { answer };
        }
        case 'partitionConfig': {
          const r = await call<GetPartitionConfigResponse>(location, 'getPartitionConfig', { job, partitionKey });
          return { answer: parseJsonObject(r.runConfigJson, 'partition config') };
        }
        case 'partitionTags': {
          const r = await call<GetPartitionTagsResponse>(location, 'getPartitionTags', { job, partitionKey });
          return { answer: r.tags };
        }
        case 'executionPlan': {
          const r = await call<GetExecutionPlanResponse>(location, 'getExecutionPlan', {
            job,
            opSelection: payload.opSelection ?? [],
          });
          return { answer: r.steps.map((s) => ({ key: s.key, dependsOn: s.dependsOn, level: s.level })) };
        }
      }
    },
  };
}
