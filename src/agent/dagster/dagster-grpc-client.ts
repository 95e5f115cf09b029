// Transport to one Dagster code server (`<python> -m dagster api grpc --socket <path>`): the
// generated `api.DagsterApi` client with Dagster's own limits and timeouts, returning the raw serdes
// strings. Parsing lives in serdes-readers.ts so the raw text can be kept beside what was read.
import { credentials, Metadata, status as GrpcStatus, type ClientOptions, type ServiceError } from '@grpc/grpc-js';
import { DagsterApiClient } from '../../gen/api/dagster_api.js';
import { CheckResponse_ServingStatus, HealthClient } from '../../gen/grpc/health/v1/health.js';
import { OutpostError } from '../../shared/errors.js';

/** Dagster's gRPC message limit, both ways (grpc-js defaults to 4 MB; big repositories exceed it). */
export const DAGSTER_MAX_MESSAGE_BYTES = 100 * 1024 * 1024;
/** Dagster's default client timeout for a call. */
export const DAGSTER_DEFAULT_TIMEOUT_MS = 60_000;
/** Dagster's timeout for repository-sized calls (ExternalRepository, ExternalJob). */
export const DAGSTER_REPOSITORY_TIMEOUT_MS = 180_000;

export const DAGSTER_CHANNEL_OPTIONS: Partial<ClientOptions> = {
  'grpc.max_receive_message_length': DAGSTER_MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': DAGSTER_MAX_MESSAGE_BYTES,
  // A starting server is polled with Ping: with grpc-js's default 1 s backoff, readiness is seen
  // up to ~1.6 s late; a short backoff keeps the wait close to the real start time.
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.min_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

type Cb<Res> = (err: ServiceError | null, res: Res) => void;
type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: Date }, cb: Cb<Res>) => unknown;

export class DagsterGrpcClient {
  private readonly api: DagsterApiClient;
  private readonly health: HealthClient;

  /** `socketPath`: the code server's Unix socket. */
  constructor(readonly socketPath: string) {
    const address = `unix:${socketPath}`;
    this.api = new DagsterApiClient(address, credentials.createInsecure(), DAGSTER_CHANNEL_OPTIONS);
    this.health = new HealthClient(address, credentials.createInsecure(), DAGSTER_CHANNEL_OPTIONS);
  }

  close(): void {
    this.api.close();
    this.health.close();
  }

  private call<Req, Res>(
    target: DagsterApiClient | HealthClient,
    method: string,
    req: Req,
    timeoutMs: number,
  ): Promise<Res> {
    const fn = (target as unknown as Record<string, Unary<Req, Res>>)[method]!.bind(target);
    return new Promise((resolve, reject) => {
      fn(req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (err) reject(dagsterGrpcError(err, method, timeoutMs));
        else resolve(res);
      });
    });
  }

  async ping(echo = 'outpost', timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<{ echo: string }, { echo: string }>(this.api, 'ping', { echo }, timeoutMs);
    return r.echo;
  }

  async heartbeat(timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<void> {
    await this.call(this.api, 'heartbeat', { echo: '' }, timeoutMs);
  }

  async getServerId(timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serverId: string }>(this.api, 'getServerId', {}, timeoutMs);
    return r.serverId;
  }

  /** `grpc.health.v1` Check of the DagsterApi service: true when SERVING. */
  async isServing(timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<boolean> {
    const r = await this.call<{ service: string }, { status: CheckResponse_ServingStatus }>(
      this.health,
      'check',
      { service: 'DagsterApi' },
      timeoutMs,
    );
    return r.status === CheckResponse_ServingStatus.SERVING_STATUS_SERVING;
  }

  /** Raw `ListRepositoriesResponse` or `SerializableErrorInfo`. */
  async listRepositories(timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serializedListRepositoriesResponseOrError: string }>(
      this.api,
      'listRepositories',
      {},
      timeoutMs,
    );
    return r.serializedListRepositoriesResponseOrError;
  }

  /** Raw `ExternalRepositoryData`; `origin` from serdes.repositoryOrigin. */
  async externalRepository(
    origin: string,
    deferSnapshots = true,
    timeoutMs = DAGSTER_REPOSITORY_TIMEOUT_MS,
  ): Promise<string> {
    const r = await this.call<object, { serializedExternalRepositoryData: string }>(
      this.api,
      'externalRepository',
      { serializedRepositoryPythonOrigin: origin, deferSnapshots },
      timeoutMs,
    );
    return r.serializedExternalRepositoryData;
  }

  /** The same as externalRepository, streamed in chunks (for repositories near the message limit). */
  streamingExternalRepository(
    origin: string,
    deferSnapshots = true,
    timeoutMs = DAGSTER_REPOSITORY_TIMEOUT_MS,
  ): Promise<string> {
    const stream = this.api.streamingExternalRepository(
      { serializedRepositoryPythonOrigin: origin, deferSnapshots },
      new Metadata(),
      { deadline: new Date(Date.now() + timeoutMs) },
    );
    const chunks: { seq: number; text: string }[] = [];
    return new Promise((resolve, reject) => {
      stream.on('data', (c: { sequenceNumber: number; serializedExternalRepositoryChunk: string }) =>
        chunks.push({ seq: c.sequenceNumber, text: c.serializedExternalRepositoryChunk }),
      );
      stream.on('error', (err: ServiceError) =>
        reject(dagsterGrpcError(err, 'streamingExternalRepository', timeoutMs)),
      );
      stream.on('end', () =>
        resolve(
          chunks
            .sort((a, b) => a.seq - b.seq)
            .map((c) => c.text)
            .join(''),
        ),
      );
    });
  }

  /** Raw job snapshot (`ExternalPipelineData`) and raw error (empty when none). */
  async externalJob(
    origin: string,
    jobName: string,
    timeoutMs = DAGSTER_REPOSITORY_TIMEOUT_MS,
  ): Promise<{ jobData: string; error: string }> {
    const r = await this.call<object, { serializedJobData: string; serializedError: string }>(
      this.api,
      'externalJob',
      { serializedRepositoryOrigin: origin, jobName },
      timeoutMs,
    );
    return { jobData: r.serializedJobData, error: r.serializedError };
  }

  async executionPlanSnapshot(args: string, timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serializedExecutionPlanSnapshot: string }>(
      this.api,
      'executionPlanSnapshot',
      { serializedExecutionPlanSnapshotArgs: args },
      timeoutMs,
    );
    return r.serializedExecutionPlanSnapshot;
  }

  async partitionNames(args: string, timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serializedExternalPartitionNamesOrExternalPartitionExecutionError: string }>(
      this.api,
      'externalPartitionNames',
      { serializedPartitionNamesArgs: args },
      timeoutMs,
    );
    return r.serializedExternalPartitionNamesOrExternalPartitionExecutionError;
  }

  async partitionConfig(args: string, timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serializedExternalPartitionConfigOrExternalPartitionExecutionError: string }>(
      this.api,
      'externalPartitionConfig',
      { serializedPartitionArgs: args },
      timeoutMs,
    );
    return r.serializedExternalPartitionConfigOrExternalPartitionExecutionError;
  }

  async partitionTags(args: string, timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serializedExternalPartitionTagsOrExternalPartitionExecutionError: string }>(
      this.api,
      'externalPartitionTags',
      { serializedPartitionArgs: args },
      timeoutMs,
    );
    return r.serializedExternalPartitionTagsOrExternalPartitionExecutionError;
  }

  async scheduleExecution(args: string, timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serializedScheduleResult: string }>(
      this.api,
      'syncExternalScheduleExecution',
      { serializedExternalScheduleExecutionArgs: args },
      timeoutMs,
    );
    return r.serializedScheduleResult;
  }

  async sensorExecution(args: string, timeoutMs = DAGSTER_DEFAULT_TIMEOUT_MS): Promise<string> {
    const r = await this.call<object, { serializedSensorResult: string }>(
      this.api,
      'syncExternalSensorExecution',
      { serializedExternalSensorExecutionArgs: args },
      timeoutMs,
    );
    return r.serializedSensorResult;
  }
}

/** Polls Ping until the server answers or `timeoutMs` passes; resolves with the time it took. */
export async function waitForDagsterServer(
  client: DagsterGrpcClient,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      await client.ping('ready', Math.max(200, Math.min(1_000, t0 + timeoutMs - Date.now())));
      return Date.now() - t0;
    } catch (err) {
      if (!isAlive()) throw err;
      if (Date.now() - t0 >= timeoutMs) {
        throw new OutpostError('CODE_SERVER_UNAVAILABLE', {
          detail: `Dagster code server at ${client.socketPath} did not answer Ping within ${timeoutMs} ms`,
          cause: err,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Transport failures only: Dagster's user-code errors arrive in-band, as data. */
export function dagsterGrpcError(err: ServiceError, method: string, timeoutMs: number): OutpostError {
  const detail = `Dagster ${method}: ${err.details || err.message}`;
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
      return new OutpostError('CODE_SERVER_UNAVAILABLE', { detail, cause: err, data: { grpc: 'UNAVAILABLE' } });
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new OutpostError('USER_CODE_TIMEOUT', {
        detail: `Dagster ${method} took longer than ${timeoutMs} ms`,
        cause: err,
        data: { timeoutMs },
      });
    default:
      return new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail, cause: err, data: { grpc: err.code } });
  }
}
