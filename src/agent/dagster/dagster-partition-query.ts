// A Dagster location's partition questions. partitionRun answers a launch in one work item:
// whether the key is in the job's set (decided from the snapshot, partition-membership.ts; the
// set is listed here, on the agent, only when the snapshot cannot decide), then the partition's
// run config and tags from the code server. partitionNames answers one page of the keys (the whole
// list to a control plane from before paging: work-items.ts partitionNamesAnswer).
import { OutpostError } from '../../shared/errors.js';
import type { JobSnapshot, PartitionsSnapshot } from '../../shared/location-snapshot.js';
import { partitionNamesAnswer, type PartitionRunAnswer, type WorkItemPayload } from '../../shared/work-items.js';
import type { DagsterCodeServer } from './dagster-code-server.js';
import type { DagsterLoaded } from './dagster-load.js';
import { inList, keyInSet } from './partition-membership.js';
import * as serdes from './serdes.js';
import { expectOk, readPartitionConfig, readPartitionNames, readPartitionTags } from './serdes-readers.js';

type Loaded = DagsterCodeServer & { loaded: DagsterLoaded };
type Query = WorkItemPayload<'QUERY_CODE_LOCATION'>;

export async function answerPartitionQuery(
  s: Loaded,
  job: JobSnapshot,
  payload: Query,
  callMs: number,
  now: number,
): Promise<unknown> {
  if (!job.partitions) {
    throw new OutpostError('UNKNOWN_PARTITION', {
      detail: `job ${job.name} of ${payload.location} is not partitioned`,
    });
  }
  const set = { origin: s.loaded.origin, jobName: job.name, partitionSetName: job.partitions };
  const names = async (): Promise<string[]> =>
    expectOk(
      readPartitionNames(await s.client.partitionNames(serdes.partitionNamesArgs(set), callMs)),
      `partitionNames:${job.name}`,
    );
  if (payload.query === 'partitionNames') {
    return partitionNamesAnswer(await names(), payload);
  }
  const key = payload.partitionKey;
  if (!key) {
    throw new OutpostError('UNKNOWN_PARTITION', { detail: `${payload.query} of ${job.name} needs a partition key` });
  }
  const args = serdes.partitionArgs({ ...set, partitionName: key });
  const config = async (): Promise<Record<string, unknown>> =>
    expectOk(readPartitionConfig(await s.client.partitionConfig(args, callMs)), `partitionConfig:${job.name}`);
  const tags = async (): Promise<Record<string, string>> =>
    expectOk(readPartitionTags(await s.client.partitionTags(args, callMs)), `partitionTags:${job.name}`);
  if (payload.query === 'partitionConfig') return config();
  if (payload.query === 'partitionTags') return tags();

  // partitionRun. Dagster answers config and tags for any key (1.13.29: "garbage", a day in
  // 2999, a multi key with its dimensions swapped), so membership is decided first, here.
  const snapshot = s.loaded.snapshot.partitions.find((p) => p.name === job.partitions);
  const verdict = snapshot ? keyInSet(snapshot, key, now) : ({ in: 'list' } as const);
  const member = verdict.in === 'list' ? inList(await names(), key) : verdict;
  if (member.in === 'dynamic') throw dynamicUnsupported(job, snapshot, member.dimension);
  if (member.in === false) {
    throw new OutpostError('UNKNOWN_PARTITION', {
      detail: `partition key ${JSON.stringify(key)} is not in ${job.partitions} of job ${job.name}: ${member.hint}`,
    });
  }
  const [runConfig, runTags] = await Promise.all([config(), tags()]);
  const answer: PartitionRunAnswer = { runConfig, tags: runTags };
  return answer;
}

/**
 * Dagster lists a dynamic set's keys from its instance (its code server, given none, answers
 * "The instance is not available to load partitions"), and Outpost gives user code none.
 */
function dynamicUnsupported(job: JobSnapshot, set: PartitionsSnapshot | undefined, dimension?: string): OutpostError {
  const what = dimension ? `multi-partitions whose dimension ${dimension} is dynamic` : 'dynamic partitions';
  return new OutpostError('UNSUPPORTED_DAGSTER_FEATURE', {
    detail: `job ${job.name} is partitioned by ${what} (${set?.name ?? job.partitions}): Dagster keeps their keys in its instance, which Outpost does not provide, so Outpost cannot tell which keys exist. Launch it by Dagster's own tools, or partition it with static or time-window partitions (StaticPartitionsDefinition, whose keys Outpost reads from the code location)`,
  });
}
