// Loading a Dagster code server that answers Ping: ListRepositories (a SerializableErrorInfo
// reply is the location's load error), the supported-version check, then the deferred repository
// snapshot and one ExternalJob per job, mapped into Outpost's LocationSnapshot. Also what the run
// launcher needs (DagsterTarget). Load errors are USER_CODE_LOAD_FAILED / DAGSTER_UNSUPPORTED_VERSION
// carrying Dagster's own text; they are deterministic, so the manager does not restart on them.
import { OutpostError } from '../../shared/errors.js';
import type { LocationSnapshot } from '../../shared/location-snapshot.js';
import { formatDagsterError } from './dagster-error.js';
import type { DagsterGrpcClient } from './dagster-grpc-client.js';
import type { DagsterTarget } from '../../shared/dagster-target.js';
import * as serdes from './serdes.js';
import {
  readJobData,
  readListRepositories,
  readRepositoryData,
  type DagsterErrorInfo,
  type JobData,
} from './serdes-readers.js';
import { mapDagsterSnapshot } from './snapshot-mapper.js';

/** Dagster minors Outpost is tested against (1.9.x to 1.13.x). */
export const SUPPORTED_DAGSTER = { min: [1, 9], max: [1, 13], text: '1.9.x to 1.13.x' } as const;

export function isSupportedDagsterVersion(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.\d+/.exec(version);
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2])];
  const cmp = (a: readonly number[], b: readonly number[]) => a[0]! - b[0]! || a[1]! - b[1]!;
  return cmp(v, SUPPORTED_DAGSTER.min) >= 0 && cmp(v, SUPPORTED_DAGSTER.max) <= 0;
}

/** A loaded location: what evaluations and queries need besides the client. */
export interface DagsterLoaded {
  origin: serdes.RepositoryOriginInput;
  /** serdes.repositoryOrigin(origin), serialized once. */
  originJson: string;
  snapshot: LocationSnapshot;
  target: DagsterTarget;
}

/**
 * Frames that say nothing about the user's code: Python's import machinery, and Dagster's own
 * loading (dagster, dagster_shared) that every load error passes through.
 */
const NOT_USER_FRAME =
  /<frozen importlib|[\\/]importlib[\\/]__init__\.py"|[\\/]site-packages[\\/]dagster(_shared)?[\\/]/;

/** "Cls: message" for the whole cause chain, then the user's last frames of the innermost traceback. */
export function describeLoadError(e: DagsterErrorInfo, frames = 4): string {
  let root = e;
  while (root.cause) root = root.cause;
  const userFrames = root.stack.filter((f) => !NOT_USER_FRAME.test(f));
  const tail = userFrames.slice(-frames).join('').trimEnd();
  return tail ? `${formatDagsterError(e)}\n${tail}` : formatDagsterError(e);
}

export async function loadDagsterLocation(
  client: DagsterGrpcClient,
  o: {
    locationName: string;
    socketPath: string;
    workingDirectory: string;
    /** The interpreter run workers use; default the server's own `executable_path`. */
    python?: string;
  },
): Promise<DagsterLoaded> {
  const list = readListRepositories(await client.listRepositories());
  if (!list.ok) {
    throw new OutpostError('USER_CODE_LOAD_FAILED', {
      detail: describeLoadError(list.error),
      data: { clsName: list.error.clsName },
    });
  }
  const version = list.value.dagsterVersion ?? 'unknown';
  if (!isSupportedDagsterVersion(version)) {
    throw new OutpostError('DAGSTER_UNSUPPORTED_VERSION', {
      detail: `location ${o.locationName} runs dagster ${version}; Outpost supports ${SUPPORTED_DAGSTER.text}`,
      data: { dagsterVersion: version },
    });
  }
  const repos = list.value.repositories;
  const repo = repos[0];
  if (!repo) {
    throw new OutpostError('USER_CODE_LOAD_FAILED', {
      detail: `location ${o.locationName} defines no Definitions object or repository`,
    });
  }
  // Dagster serves every repository a file defines; an Outpost location is one repository, so
  // hosting only the first would silently drop the others' jobs, schedules and sensors.
  if (repos.length > 1) {
    const names = repos.map((r) => r.name);
    throw new OutpostError('USER_CODE_LOAD_FAILED', {
      detail:
        `location ${o.locationName} defines ${names.length} repositories (${names.join(', ')}); ` +
        'an Outpost location hosts one: deploy the code once per repository, each with ' +
        `--attribute <name> (GraphQL dagster.attribute), e.g. --attribute ${names[0]}`,
      data: { repositories: names },
    });
  }
  const origin: serdes.RepositoryOriginInput = {
    socket: o.socketPath,
    locationName: o.locationName,
    repositoryName: repo.name,
  };
  const originJson = serdes.serialize(serdes.repositoryOrigin(origin));
  const repository = readRepositoryData(await client.externalRepository(originJson, true));
  const jobs: Record<string, JobData> = {};
  for (const ref of repository.jobRefs) {
    const job = readJobData(await client.externalJob(originJson, ref.name));
    if (!job.ok) {
      throw new OutpostError('USER_CODE_LOAD_FAILED', { detail: `job ${ref.name}: ${describeLoadError(job.error)}` });
    }
    jobs[ref.name] = job.value;
  }
  const snapshot = mapDagsterSnapshot({ dagsterVersion: version, repository, jobs });
  const pointer = list.value.codePointers[repo.name];
  const codePointer = pointer && typeof pointer === 'object' ? (pointer as Record<string, unknown>) : {};
  const pointerDir = typeof codePointer.working_directory === 'string' ? codePointer.working_directory : undefined;
  return {
    origin,
    originJson,
    snapshot,
    target: {
      python: o.python ?? list.value.executablePath ?? '',
      workingDirectory: pointerDir ?? o.workingDirectory,
      codePointer,
      repositoryName: repo.name,
      entryPoint: list.value.entryPoint,
      locationName: o.locationName,
      dagsterVersion: version,
    },
  };
}
