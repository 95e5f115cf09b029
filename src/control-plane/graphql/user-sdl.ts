// The user API's type definitions (the source); the printed schema is committed as
// user.schema.graphql and a test keeps the two in step.
export const USER_SDL = /* GraphQL */ `
  scalar JSON

  enum RunStatus {
    QUEUED
    STARTING
    STARTED
    SUCCESS
    FAILURE
    CANCELING
    CANCELED
  }
  enum CodeLocationStatus {
    LOADING
    LOADED
    ERROR
  }
  "What serves a code location: Outpost's own SDK or an unmodified Dagster code location."
  enum CodeLocationKind {
    OUTPOST
    DAGSTER
  }
  enum ComputeLogStream {
    STDOUT
    STDERR
  }
  enum WorkItemKind {
    SYNC_CODE_LOCATION
    EVALUATE_SCHEDULE
    EVALUATE_SENSOR
    QUERY_CODE_LOCATION
    LAUNCH_RUN
    TERMINATE_RUN
  }
  enum WorkItemStatus {
    QUEUED
    CLAIMED
    ACKED
    COMPLETED
    FAILED
  }
  enum AutomationState {
    RUNNING
    STOPPED
  }
  enum TickStatus {
    STARTED
    SUCCESS
    SKIPPED
    FAILURE
  }
  enum CodeLocationQuery {
    PARTITION_NAMES
    PARTITION_CONFIG
    PARTITION_TAGS
    EXECUTION_PLAN
  }
  enum TokenKind {
    "Opens /graphql."
    USER
    "Opens /agent/graphql."
    AGENT
  }
  "What a user token may do; each role includes the ones above it."
  enum UserRole {
    "Reads everything but tokens and the audit log."
    VIEWER
    "Also launches, terminates and re-executes runs, and tests schedules and sensors."
    LAUNCHER
    "Also deploys, reloads and deletes code locations (modules under the module roots) and turns schedules and sensors on and off."
    EDITOR
    "Also manages tokens and agents, deploys commands, and reads the audit log."
    ADMIN
  }

  type OpInput {
    name: String!
    fromOp: String!
    fromOutput: String!
  }
  type Op {
    name: String!
    description: String!
    inputs: [OpInput!]!
    outputs: [String!]!
    tags: JSON!
  }
  type Job {
    name: String!
    description: String!
    tags: JSON!
    "JSON Schema of the run config, as launchRun checks it: keys the schema does not list are refused unless it allows them."
    configSchema: JSON!
    ops: [Op!]!
    "Name of the job's partitions definition, if partitioned."
    partitions: String
  }
  type Tick {
    id: ID!
    "Epoch ms: the cron time for schedules, the evaluation time for sensors."
    tickTime: Float!
    "Same as tickTime."
    timestamp: Float!
    status: TickStatus!
    runIds: [ID!]!
    skipReason: String
    error: String
    cursor: String
    createdAt: Float!
    endedAt: Float
  }
  type Schedule {
    name: String!
    job: String!
    cron: String!
    timezone: String!
    description: String!
    "The state set with setScheduleState, else the definition's default."
    state: AutomationState!
    "Next cron time (epoch ms) while RUNNING."
    nextTickAt: Float
    lastTickAt: Float
    ticks(first: Int = 20): [Tick!]!
  }
  type Sensor {
    name: String!
    job: String!
    minIntervalSeconds: Int!
    description: String!
    state: AutomationState!
    cursor: String
    lastTickAt: Float
    ticks(first: Int = 20): [Tick!]!
  }
  type PartitionSet {
    name: String!
    kind: String!
    keys: [String!]
    start: String
    cadence: String
    timezone: String
    format: String
  }
  type AssetMaterialization {
    runId: ID!
    "Epoch ms of the ASSET_MATERIALIZATION event."
    timestamp: Float!
  }
  "A software-defined asset of a Dagster location, from its snapshot."
  type Asset {
    "Path parts joined with /."
    key: String!
    groupName: String
    description: String!
    "Upstream asset keys."
    deps: [String!]!
    "Jobs that materialize it (Dagster's implicit __ASSET_JOB included)."
    jobNames: [String!]!
    "The latest stored ASSET_MATERIALIZATION of this key in this location; null if never."
    lastMaterialization: AssetMaterialization
  }
  type CodeLocation {
    name: String!
    kind: CodeLocationKind!
    "The Dagster version the code server reported (DAGSTER locations, once loaded)."
    dagsterVersion: String
    status: CodeLocationStatus!
    "Incremented by every deploy and reload."
    version: Int!
    loadError: String
    "False when no healthy agent (heard from within 3 heartbeat intervals) reports this location's code server: nothing can run here until one does."
    reachable: Boolean!
    spec: JSON!
    updatedAt: Float!
    "Definitions as last reported by the agent (empty before the first load)."
    jobs: [Job!]!
    schedules: [Schedule!]!
    sensors: [Sensor!]!
    partitions: [PartitionSet!]!
    "Assets (Dagster locations; empty otherwise)."
    assets: [Asset!]!
  }
  type RunEvent {
    "Public seq: 1..N per run without gap, in the order events were stored, ENGINE events included."
    seq: Int!
    "The run worker's own seq (what the agent ships by); null for events the control plane wrote."
    workerSeq: Int
    type: String!
    timestamp: Float!
    stepKey: String
    "ASSET_MATERIALIZATION / ASSET_OBSERVATION: the asset key."
    assetKey: String
    level: String
    message: String
    data: JSON
    error: JSON
  }
  type ComputeLogs {
    "UTF-8 text of the bytes from offset to nextOffset (plus a marker where the cap dropped data)."
    data: String!
    offset: Float!
    nextOffset: Float!
    truncated: Boolean!
  }
  type Run {
    id: ID!
    status: RunStatus!
    job: String!
    location: String!
    runConfig: JSON!
    tags: JSON!
    createdAt: Float!
    "When an agent reported the run worker launched."
    launchedAt: Float
    "The run's RUN_START event time (the run worker's clock); null until it starts."
    startedAt: Float
    "The run's terminal event time, or when the control plane ended it (no worker event)."
    endedAt: Float
    "startedAt to endedAt (to now while running); null if it never started. The one duration UI and CLI show."
    durationMs: Float
    "Why the run never launched (the LAUNCH_RUN item's error: launch timeout, attempts exhausted, spawn failure, canceled); null otherwise."
    launchError: WorkItemError
    updatedAt: Float!
    agentId: ID
    "Seq of the run's last event (its events are 1..lastSeq)."
    lastSeq: Int!
    events(afterSeq: Int = 0, first: Int = 1000): [RunEvent!]!
    computeLogs(stream: ComputeLogStream!, afterOffset: Float = 0): ComputeLogs!
  }
  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }
  type RunEdge {
    cursor: String!
    node: Run!
  }
  type RunConnection {
    edges: [RunEdge!]!
    nodes: [Run!]!
    pageInfo: PageInfo!
  }
  input RunsFilter {
    status: [RunStatus!]
    job: String
    location: String
  }
  type Agent {
    id: ID!
    name: String!
    hostname: String!
    version: String!
    taskQueue: String!
    metadata: JSON!
    registeredAt: Float!
    lastHeartbeatAt: Float!
    "Heard from within 3 heartbeat intervals."
    healthy: Boolean!
    "[{ location, status, error }] from the last heartbeat."
    codeServers: JSON!
    runningRunIds: [ID!]!
    errors: [String!]!
  }
  type WorkItemError {
    code: String!
    message: String!
  }
  type WorkItem {
    id: ID!
    kind: WorkItemKind!
    payload: JSON!
    status: WorkItemStatus!
    attempts: Int!
    maxAttempts: Int!
    runId: ID
    dedupeKey: String
    leaseOwner: String
    leaseExpiresAt: Float
    workflowId: String
    result: JSON
    error: WorkItemError
    createdAt: Float!
    updatedAt: Float!
  }
  input WorkItemsFilter {
    status: WorkItemStatus
    kind: WorkItemKind
    runId: ID
  }
  type Token {
    id: ID!
    kind: TokenKind!
    name: String!
    "The role of a user token; null for agent tokens."
    role: UserRole
    createdAt: Float!
    revokedAt: Float
    lastUsedAt: Float
  }
  type CreatedToken {
    id: ID!
    kind: TokenKind!
    name: String!
    role: UserRole
    "The plaintext token. Shown once; only its hash is stored."
    token: String!
  }
  type AuditEntry {
    id: ID!
    "Epoch ms."
    at: Float!
    "The acting token's name."
    actor: String!
    actorTokenId: ID
    "The mutation's name, e.g. launchRun."
    action: String!
    target: String
    "ok, or the error code of a refusal or failure."
    outcome: String!
  }
  type AuditEdge {
    cursor: String!
    node: AuditEntry!
  }
  type AuditConnection {
    edges: [AuditEdge!]!
    nodes: [AuditEntry!]!
    pageInfo: PageInfo!
  }
  input AuditFilter {
    action: String
    actorTokenId: ID
    target: String
    "ok, refused (any other outcome), or an exact error code."
    outcome: String
  }
  "A run a schedule or sensor evaluation asks for."
  type RunRequest {
    runKey: String
    job: String!
    runConfig: JSON!
    tags: JSON!
    partitionKey: String
  }
  "What a schedule or sensor evaluation answered; nothing was launched and no cursor stored."
  type TickEvaluation {
    runRequests: [RunRequest!]!
    skipReason: String
    "The sensor's new cursor, if it set one."
    cursor: String
    "The error the user's code raised (or an answer Outpost cannot act on); null on success."
    error: String
  }
  type SignInLink {
    "One-time code: works once, for a few minutes, and opens a browser session as this token."
    code: String!
    "Path to open on the control plane, with the code in the fragment (never sent to a server log)."
    path: String!
    expiresAt: Float!
  }
  input LaunchRunInput {
    location: String!
    "Optional with assetSelection: then the job that materializes the assets (Dagster's implicit __ASSET_JOB first)."
    job: String
    "Asset keys (path parts joined with /) to materialize; unknown keys are refused."
    assetSelection: [String!]
    runConfig: JSON
    tags: JSON
    "Required for a partitioned job, refused otherwise; must be in the job's partition set. Stored as tag outpost/partition."
    partitionKey: String
  }
  input QueryCodeLocationInput {
    location: String!
    query: CodeLocationQuery!
    job: String!
    partitionKey: String
    opSelection: [String!]
    "EXECUTION_PLAN: the run config to plan with (a Dagster location checks it)."
    runConfig: JSON
    "EXECUTION_PLAN: asset keys to plan for."
    assetSelection: [String!]
  }
  "An unmodified Dagster code location: an interpreter that has dagster and the code's dependencies, and exactly one pointer."
  input DagsterLocationInput {
    "Path of the Python interpreter (e.g. a venv's bin/python); Outpost installs nothing into it."
    python: String!
    "A Python file; a relative one resolves against workingDirectory."
    pythonFile: String
    moduleName: String
    packageName: String
    "The Definitions (or repository) attribute; default: Dagster's discovery."
    attribute: String
    "Working directory of the code server and runs (relative: against the agent's)."
    workingDirectory: String
  }
  input TestScheduleInput {
    location: String!
    name: String!
    "Epoch ms of the tick to evaluate; default now."
    tickTime: Float
  }
  input TestSensorInput {
    location: String!
    name: String!
    "The cursor to evaluate from; default none."
    cursor: String
  }
  input DeployCodeLocationInput {
    name: String!
    "Definitions module path, relative to the agent's working directory."
    module: String
    "Or a command that starts a code server; {port} is replaced by the port to bind."
    command: [String!]
    workingDirectory: String
    "Non-secret environment for the code server and run workers."
    env: JSON
    "Or an unmodified Dagster code location (then no module, command or workingDirectory)."
    dagster: DagsterLocationInput
  }

  type Query {
    codeLocations: [CodeLocation!]!
    codeLocation(name: String!): CodeLocation
    runs(filter: RunsFilter, first: Int = 50, after: String): RunConnection!
    run(id: ID!): Run
    agents: [Agent!]!
    workItems(filter: WorkItemsFilter, first: Int = 100): [WorkItem!]!
    workItem(id: ID!): WorkItem
    "ADMIN only."
    tokens: [Token!]!
    "The token making this request."
    me: Token!
    "Newest first. ADMIN only."
    auditLog(first: Int = 50, after: String, filter: AuditFilter): AuditConnection!
  }

  type Mutation {
    "Validates location, job and config; creates a QUEUED run and its LAUNCH_RUN work item."
    launchRun(input: LaunchRunInput!): Run!
    terminateRun(id: ID!): Run!
    "Records the spec under a new version and enqueues SYNC_CODE_LOCATION."
    deployCodeLocation(input: DeployCodeLocationInput!): CodeLocation!
    reloadCodeLocation(name: String!): CodeLocation!
    "Removes the location (its runs stay); the agents stop its code server. Returns it as it was."
    deleteCodeLocation(name: String!): CodeLocation!
    "Asks an agent (only agents reach code servers) and waits up to waitMs; the item's result holds the answer."
    queryCodeLocation(input: QueryCodeLocationInput!, waitMs: Int = 10000): WorkItem!
    "Evaluates a schedule at tickTime without launching anything (waits for an agent, like queryCodeLocation)."
    testSchedule(input: TestScheduleInput!): TickEvaluation!
    "Evaluates a sensor from a cursor without launching anything or storing the cursor."
    testSensor(input: TestSensorInput!): TickEvaluation!
    setScheduleState(location: String!, name: String!, state: AutomationState!): Schedule!
    setSensorState(location: String!, name: String!, state: AutomationState!): Sensor!
    "ADMIN only. USER tokens get role (default VIEWER), never above the caller's; AGENT tokens carry none."
    createToken(kind: TokenKind!, name: String!, role: UserRole): CreatedToken!
    "ADMIN only. Also ends every browser session opened with the token."
    revokeToken(id: ID!): Token!
    "A one-time browser sign-in link for the calling token."
    createSignInLink: SignInLink!
  }

  type Subscription {
    "A run's events as they are stored, from afterSeq; ends after the run finishes."
    runEvents(runId: ID!, afterSeq: Int = 0): RunEvent!
  }
`;
