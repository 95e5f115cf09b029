// GraphQL enum values are UPPER_CASE (the convention, and Dagster's); where the stored or
// wire-internal value differs, the schema maps it here, at the edge, and nowhere else.

/** Compute log streams: `STDOUT`/`STDERR` in GraphQL, `stdout`/`stderr` in storage and spool files. */
export const ComputeLogStreamValues = { STDOUT: 'stdout', STDERR: 'stderr' } as const;

/** Code-location queries: UPPER_CASE in GraphQL, the code server's request names inside. */
export const CodeLocationQueryValues = {
  PARTITION_NAMES: 'partitionNames',
  PARTITION_CONFIG: 'partitionConfig',
  PARTITION_TAGS: 'partitionTags',
  PARTITION_RUN: 'partitionRun',
  EXECUTION_PLAN: 'executionPlan',
} as const;

/** Token kinds: `USER`/`AGENT` in GraphQL, lower-case in the tokens table. */
export const TokenKindValues = { USER: 'user', AGENT: 'agent' } as const;
