// Every GraphQL document the agent sends to /agent/graphql, by operation name (the key is the
// operation's name). `npm run gen:graphql` validates them against src/control-plane/graphql/agent.graphql
// and generates their variables and result types into src/gen/graphql/agent.ts (AgentOperations).

// The fields several documents select (the generator takes no fragments): a work item's, in both
// claim documents; a run's cursor (RunCursor), wherever the agent is answered one.
const WORK_ITEM_FIELDS = 'id kind payload attempts runId';
const RUN_CURSOR_FIELDS = 'runId lastSeq stdoutBytes stderrBytes status';

export const AGENT_DOCUMENTS = {
  RegisterAgent: /* GraphQL */ `
    mutation RegisterAgent($input: RegisterAgentInput!) {
      registerAgent(input: $input) {
        agentId
        heartbeatIntervalMs
      }
    }
  `,
  ClaimWork: /* GraphQL */ `
    mutation ClaimWork($agentId: ID!, $limit: Int!, $waitMs: Int!, $acks: [WorkAckInput!]) {
      claimWork(agentId: $agentId, limit: $limit, waitMs: $waitMs, acks: $acks) {
        ${WORK_ITEM_FIELDS}
      }
    }
  `,
  // ClaimWork with each LAUNCH_RUN item's run cursor (WorkItem.runCursor): a control plane from
  // before that field refuses the whole document (validation), so the agent falls back to ClaimWork.
  ClaimWorkWithCursors: /* GraphQL */ `
    mutation ClaimWorkWithCursors($agentId: ID!, $limit: Int!, $waitMs: Int!, $acks: [WorkAckInput!]) {
      claimWork(agentId: $agentId, limit: $limit, waitMs: $waitMs, acks: $acks) {
        ${WORK_ITEM_FIELDS}
        runCursor {
          ${RUN_CURSOR_FIELDS}
        }
      }
    }
  `,
  AckWork: /* GraphQL */ `
    mutation AckWork($agentId: ID!, $id: ID!, $workflowId: String!) {
      ackWork(agentId: $agentId, id: $id, workflowId: $workflowId) {
        id
      }
    }
  `,
  CompleteWork: /* GraphQL */ `
    mutation CompleteWork($agentId: ID!, $id: ID!, $result: JSON!) {
      completeWork(agentId: $agentId, id: $id, result: $result) {
        id
      }
    }
  `,
  FailWork: /* GraphQL */ `
    mutation FailWork($agentId: ID!, $id: ID!, $error: WorkErrorInput!) {
      failWork(agentId: $agentId, id: $id, error: $error) {
        id
      }
    }
  `,
  Workspace: /* GraphQL */ `
    query Workspace($agentId: ID!) {
      workspace(agentId: $agentId) {
        name
        version
        spec
      }
    }
  `,
  ReportCodeLocation: /* GraphQL */ `
    mutation ReportCodeLocation($input: ReportCodeLocationInput!) {
      reportCodeLocation(input: $input)
    }
  `,
  ReportRunLaunchedWithEvents: /* GraphQL */ `
    mutation ReportRunLaunchedWithEvents($agentId: ID!, $runId: ID!, $info: JSON, $lines: String) {
      reportRunLaunchedWithEvents(agentId: $agentId, runId: $runId, info: $info, lines: $lines) {
        ${RUN_CURSOR_FIELDS}
      }
    }
  `,
  AppendRunEvents: /* GraphQL */ `
    mutation AppendRunEvents($agentId: ID!, $runId: ID!, $events: [RunEventInput!]!) {
      appendRunEvents(agentId: $agentId, runId: $runId, events: $events) {
        highestContiguousSeq
        status
      }
    }
  `,
  AppendRunEventLines: /* GraphQL */ `
    mutation AppendRunEventLines($agentId: ID!, $runId: ID!, $lines: String!) {
      appendRunEventLines(agentId: $agentId, runId: $runId, lines: $lines) {
        highestContiguousSeq
        status
      }
    }
  `,
  AppendComputeLogs: /* GraphQL */ `
    mutation AppendComputeLogs(
      $agentId: ID!
      $runId: ID!
      $stream: ComputeLogStream!
      $offset: Float!
      $data: String!
    ) {
      appendComputeLogs(agentId: $agentId, runId: $runId, stream: $stream, offset: $offset, data: $data) {
        storedBytes
        truncated
      }
    }
  `,
  RunCursor: /* GraphQL */ `
    query RunCursor($agentId: ID!, $runId: ID!) {
      runCursor(agentId: $agentId, runId: $runId) {
        ${RUN_CURSOR_FIELDS}
      }
    }
  `,
  // RunCursor with whether the log cap dropped output (RunCursor.logsTruncated), asked only by the
  // spool retention sweep: a control plane from before that field refuses it, and the sweep then
  // keeps the spool (it cannot tell that the stored logs are whole).
  RetentionCursor: /* GraphQL */ `
    query RetentionCursor($agentId: ID!, $runId: ID!) {
      runCursor(agentId: $agentId, runId: $runId) {
        ${RUN_CURSOR_FIELDS}
        logsTruncated
      }
    }
  `,
  RunCursors: /* GraphQL */ `
    query RunCursors($agentId: ID!, $runIds: [ID!]!) {
      runCursors(agentId: $agentId, runIds: $runIds) {
        ${RUN_CURSOR_FIELDS}
      }
    }
  `,
} as const;
