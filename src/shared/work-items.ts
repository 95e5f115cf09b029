// Work-item kinds and their payloads and results: the contract between the control plane
// (which enqueues and stores results) and the agent (which claims and processes).
import { z } from 'zod';

export const WORK_ITEM_KINDS = [
  'SYNC_CODE_LOCATION',
  'EVALUATE_SCHEDULE',
  'EVALUATE_SENSOR',
  'QUERY_CODE_LOCATION',
  'LAUNCH_RUN',
  'TERMINATE_RUN',
] as const;
export type WorkItemKind = (typeof WORK_ITEM_KINDS)[number];

export const WORK_ITEM_STATUSES = ['QUEUED', 'CLAIMED', 'ACKED', 'COMPLETED', 'FAILED'] as const;
export type WorkItemStatus = (typeof WORK_ITEM_STATUSES)[number];

const Json = z.record(z.unknown());
const Tags = z.record(z.string());

export const RunRequestSchema = z.object({
  runKey: z.string().optional(),
  job: z.string(),
  runConfig: Json.default({}),
  tags: Tags.default({}),
  partitionKey: z.string().optional(),
  /**
   * Asset keys (path parts joined with `/`) the run materializes, of those `job` materializes;
   * omitted: the whole job. A Dagster sensor that targets assets asks for its selection so.
   */
  assetSelection: z.array(z.string().min(1)).optional(),
});
export type RunRequest = z.infer<typeof RunRequestSchema>;

/** The longest partitionNames search (a key is searched for by part of it, not by a document). */
export const MAX_PARTITION_SEARCH_LENGTH = 200;

export const PayloadSchemas = {
  SYNC_CODE_LOCATION: z.object({ location: z.string(), version: z.number().int() }),
  EVALUATE_SCHEDULE: z.object({
    location: z.string(),
    schedule: z.string(),
    tickTimeMs: z.number(),
    /** testSchedule: evaluate and answer, but the control plane launches nothing. */
    dryRun: z.boolean().optional(),
  }),
  EVALUATE_SENSOR: z.object({
    location: z.string(),
    /** testSensor: evaluate and answer; no run, no cursor stored. */
    dryRun: z.boolean().optional(),
    sensor: z.string(),
    cursor: z.string().nullable().optional(),
    lastTickTimeMs: z.number().optional(),
    lastRunKey: z.string().nullable().optional(),
  }),
  QUERY_CODE_LOCATION: z.object({
    location: z.string(),
    /**
     * partitionRun: whether `partitionKey` is in the job's set, and its run config and tags, in
     * one answer (PartitionRunAnswer); the set is never listed to the control plane.
     * partitionNames: one page of the set's keys (PartitionNamesPage), `offset` and `first`.
     */
    query: z.enum(['partitionNames', 'partitionConfig', 'partitionTags', 'partitionRun', 'executionPlan']),
    job: z.string(),
    partitionKey: z.string().optional(),
    /** partitionNames: keys skipped (default 0). */
    offset: z.number().int().min(0).optional(),
    /** partitionNames: keys answered, at most MAX_PARTITION_NAMES_PAGE (the default). */
    first: z.number().int().min(1).optional(),
    /**
     * partitionNames: only keys containing this, case-insensitively (the page then counts and
     * offsets the matches). An agent from before search ignores it: its page does not echo it.
     */
    search: z.string().max(MAX_PARTITION_SEARCH_LENGTH).optional(),
    opSelection: z.array(z.string()).optional(),
    /** executionPlan: the run config to plan with (Dagster validates it and answers its own error). */
    runConfig: Json.optional(),
    /** executionPlan: asset keys to plan for (Dagster asset jobs). */
    assetSelection: z.array(z.string()).optional(),
  }),
  LAUNCH_RUN: z.object({
    runId: z.string(),
    location: z.string(),
    job: z.string(),
    runConfig: Json,
    tags: Tags,
    /** Asset keys (path parts joined with `/`) to materialize; absent = the whole job. */
    assetSelection: z.array(z.string()).optional(),
    /** Names of the job's ops to run (a Dagster job's subset); absent = every op. */
    opSelection: z.array(z.string()).optional(),
  }),
  TERMINATE_RUN: z.object({ runId: z.string() }),
} as const satisfies Record<WorkItemKind, z.ZodTypeAny>;
export type WorkItemPayload<K extends WorkItemKind> = z.infer<(typeof PayloadSchemas)[K]>;

/** The most partition keys one partitionNames answer holds: a page, not the set (an hourly set since 2015 is 2 MB). */
export const MAX_PARTITION_NAMES_PAGE = 1000;

/** partitionNames: keys `offset` to `offset + keys.length` of `total`, in the location's order. */
export interface PartitionNamesPage {
  keys: string[];
  offset: number;
  total: number;
  /** The search the page answers (its keys and total are the matches); absent: all keys. */
  search?: string;
}

/** `first` keys (at most MAX_PARTITION_NAMES_PAGE) of `all` (or of those matching `search`) from `offset`. */
export function partitionNamesPage(
  all: readonly string[],
  offset = 0,
  first = MAX_PARTITION_NAMES_PAGE,
  search?: string,
): PartitionNamesPage {
  const size = Math.min(first, MAX_PARTITION_NAMES_PAGE);
  if (!search) return { keys: all.slice(offset, offset + size), offset, total: all.length };
  const matches = keysMatching(all, search);
  return { keys: matches.slice(offset, offset + size), offset, total: matches.length, search };
}

/** The keys of `keys` that contain `search`, case-insensitively: what a partitionNames search matches. */
export function keysMatching(keys: readonly string[], search: string): string[] {
  const needle = search.toLowerCase();
  return keys.filter((k) => k.toLowerCase().includes(needle));
}

/**
 * An agent's answer to partitionNames. This control plane always asks for a page (`first` is
 * set); a control plane from before paging asks with neither `offset` nor `first` and checks a
 * launch's key against the array it gets back, so such a request still gets the whole list: an
 * agent upgraded before its control plane keeps launching partitions.
 */
export function partitionNamesAnswer(
  all: readonly string[],
  req: { offset?: number | undefined; first?: number | undefined; search?: string | undefined },
): PartitionNamesPage | readonly string[] {
  if (req.offset === undefined && req.first === undefined && !req.search) return all;
  return partitionNamesPage(all, req.offset, req.first, req.search);
}

/** partitionRun: the partition's run config and tags (a key outside the set fails UNKNOWN_PARTITION). */
export const PartitionRunAnswerSchema = z.object({ runConfig: Json, tags: Tags });
export type PartitionRunAnswer = z.infer<typeof PartitionRunAnswerSchema>;

export const ResultSchemas = {
  SYNC_CODE_LOCATION: z.object({ status: z.enum(['LOADED', 'ERROR']), error: z.string().optional() }),
  EVALUATE_SCHEDULE: z.object({ runRequests: z.array(RunRequestSchema), skipReason: z.string().optional() }),
  EVALUATE_SENSOR: z.object({
    runRequests: z.array(RunRequestSchema),
    /** Omitted = leave the stored cursor unchanged. */
    cursor: z.string().nullable().optional(),
    skipReason: z.string().optional(),
  }),
  QUERY_CODE_LOCATION: z.object({
    answer: z.unknown(),
    /**
     * executionPlan with an opSelection: this agent launches the subset it planned. One from
     * before op selection leaves it out, and would run every op of the job.
     */
    launchesOpSelection: z.literal(true).optional(),
  }),
  LAUNCH_RUN: z.object({ status: z.string() }),
  TERMINATE_RUN: z.object({ acknowledged: z.boolean() }),
} as const satisfies Record<WorkItemKind, z.ZodTypeAny>;
export type WorkItemResult<K extends WorkItemKind> = z.infer<(typeof ResultSchemas)[K]>;

/** A safe identifier: it names directories and workflow ids, so no `.`/`..` and no separators. */
export const LOCATION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

/**
 * A Dagster code location: an interpreter that already has `dagster` and the user's
 * dependencies (Outpost installs nothing into it), and exactly one code pointer.
 */
export const DagsterLocationSchema = z
  .object({
    /** Path of the Python interpreter (usually a venv's `bin/python`). */
    python: z.string().min(1),
    pythonFile: z.string().min(1).optional(),
    moduleName: z.string().min(1).optional(),
    packageName: z.string().min(1).optional(),
    /** The Definitions (or repository) attribute; default: Dagster's discovery. */
    attribute: z.string().min(1).optional(),
    /** Working directory of the code server and run workers; a relative `pythonFile` resolves against it. */
    workingDirectory: z.string().min(1).optional(),
  })
  .strict()
  .refine((d) => [d.pythonFile, d.moduleName, d.packageName].filter((v) => v !== undefined).length === 1, {
    message: 'a Dagster location names exactly one of pythonFile, moduleName and packageName',
  });
export type DagsterLocation = z.infer<typeof DagsterLocationSchema>;

/** How the agent starts a location's code server. Never carries secrets. */
export const CodeLocationSpecSchema = z.object({
  name: z
    .string()
    .max(64, 'a location name has at most 64 characters')
    .regex(LOCATION_NAME, 'a location name is letters, digits, `_` and `-`, with single dots between (no `.`, `..`)'),
  /** Path of a definitions module (TypeScript or JS), relative to the agent's working dir. */
  module: z.string().optional(),
  /** Or: a command that starts a code server; `{port}` is replaced with the port to bind. */
  command: z.array(z.string()).optional(),
  workingDirectory: z.string().optional(),
  /** Non-secret environment for the code server and run workers. */
  env: z.record(z.string()).optional(),
  /** Or: an unmodified Dagster code location (then `module` and `command` are absent). */
  dagster: DagsterLocationSchema.optional(),
});
export type CodeLocationSpec = z.infer<typeof CodeLocationSpecSchema>;

export const CODE_LOCATION_KINDS = ['OUTPOST', 'DAGSTER'] as const;
export type CodeLocationKind = (typeof CODE_LOCATION_KINDS)[number];

/** The one rule for a location's kind: a Dagster pointer makes it a Dagster location. */
export function codeLocationKind(spec: Pick<CodeLocationSpec, 'dagster'>): CodeLocationKind {
  return spec.dagster ? 'DAGSTER' : 'OUTPOST';
}

export { RUN_STATUSES, type RunStatus } from './run-status.js';
