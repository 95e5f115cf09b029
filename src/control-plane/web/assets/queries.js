// Every GraphQL document the UI sends, in one place, so a schema change is one edit.

export const RUN_FIELDS = 'id status job location tags createdAt launchedAt startedAt endedAt durationMs';

export const RUNS = `query Runs($filter: RunsFilter, $first: Int, $after: String) {
  runs(filter: $filter, first: $first, after: $after) {
    edges { node { ${RUN_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const LOCATION_NAMES = `query { codeLocations { name status jobs { name } } }`;

export const RUN = `query Run($id: ID!) {
  run(id: $id) { ${RUN_FIELDS} runConfig agentId assetSelection opSelection launchError { code message } }
}`;

const EVENT_FIELDS = 'seq type timestamp stepKey assetKey level message data error';

export const RUN_EVENTS = `query RunEvents($id: ID!, $afterSeq: Int, $first: Int) {
  run(id: $id) { id status launchedAt startedAt endedAt durationMs launchError { code message } events(afterSeq: $afterSeq, first: $first) { ${EVENT_FIELDS} } }
}`;

export const RUN_EVENTS_SUB = `subscription RunEvents($runId: ID!, $afterSeq: Int) {
  runEvents(runId: $runId, afterSeq: $afterSeq) { ${EVENT_FIELDS} }
}`;

export const COMPUTE_LOGS = `query Logs($id: ID!, $stream: ComputeLogStream!, $afterOffset: Float) {
  run(id: $id) { id computeLogs(stream: $stream, afterOffset: $afterOffset) { data offset nextOffset truncated } }
}`;

export const TERMINATE_RUN = `mutation Terminate($id: ID!) { terminateRun(id: $id) { id status } }`;

export const LAUNCH_RUN = `mutation Launch($input: LaunchRunInput!) { launchRun(input: $input) { id status } }`;

const TICK_FIELDS = 'ticks(first: 25) { id status tickTime skipReason error runIds }';

export const LOCATIONS = `query {
  codeLocations {
    name kind dagsterVersion status version loadError reachable updatedAt
    jobs { name description } schedules { name } sensors { name } assets { key }
  }
}`;

export const LOCATION = `query Location($name: String!) {
  codeLocation(name: $name) {
    name kind dagsterVersion status version loadError spec updatedAt
    jobs { name description tags ops { name } }
    assets { key }
    schedules { name job cron timezone state nextTickAt }
    sensors { name job state }
  }
}`;

export const JOB = `query Job($name: String!) {
  codeLocation(name: $name) {
    name kind dagsterVersion status
    jobs { name description tags configSchema partitions ops { name description inputs { name fromOp fromOutput } outputs } }
    partitions { name kind keys keyCount }
  }
}`;

export const ASSETS = `query Assets($name: String!) {
  codeLocation(name: $name) {
    name kind status version dagsterVersion
    assets {
      key groupName description deps jobNames automationCondition freshnessPolicy lastMaterialization { runId timestamp }
      checks { name description blocking lastEvaluation { runId timestamp passed severity metadata } }
    }
  }
}`;

const TICK_EVALUATION = `runRequests { runKey job runConfig tags partitionKey assetSelection } skipReason cursor error`;

export const TEST_SCHEDULE = `mutation TestSchedule($input: TestScheduleInput!) {
  testSchedule(input: $input) { ${TICK_EVALUATION} }
}`;

export const TEST_SENSOR = `mutation TestSensor($input: TestSensorInput!) {
  testSensor(input: $input) { ${TICK_EVALUATION} }
}`;

export const AUTOMATION = `query {
  codeLocations {
    name status
    schedules { name job cron timezone state nextTickAt ${TICK_FIELDS} }
    sensors { name job state cursor minIntervalSeconds unsupported ${TICK_FIELDS} }
  }
}`;

export const SET_SCHEDULE_STATE = `mutation SetSchedule($location: String!, $name: String!, $state: AutomationState!) {
  setScheduleState(location: $location, name: $name, state: $state) { name state }
}`;

export const SET_SENSOR_STATE = `mutation SetSensor($location: String!, $name: String!, $state: AutomationState!) {
  setSensorState(location: $location, name: $name, state: $state) { name state }
}`;

export const AGENT_HEALTH = `query { agents { healthy lastHeartbeatAt } }`;

export const AGENTS = `query { agents { id name hostname version healthy lastHeartbeatAt codeServers runningRunIds errors } }`;

export const RELOAD_LOCATION = `mutation Reload($name: String!) { reloadCodeLocation(name: $name) { name status } }`;

export const AUDIT_LOG = `query Audit($first: Int, $after: String, $filter: AuditFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    nodes { id at actor actorTokenId action target outcome }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** One page of a job's partition keys matching `search` (from the snapshot, a recent search or the location). */
export const SEARCH_PARTITION_KEYS = `query SearchPartitionKeys($location: String!, $job: String!, $search: String, $first: Int) {
  partitionKeys(location: $location, job: $job, search: $search, first: $first) { keys offset total search source searchedPage }
}`;
