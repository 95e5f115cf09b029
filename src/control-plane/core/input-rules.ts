// Size and shape rules for inputs that are stored or sent on to an agent: each names its limit,
// and is checked before anything is written. Pure functions: no store, no clock.
import { OutpostError } from '../../shared/errors.js';
import { FIXED_INPUT_LIMITS, limitDetail, type ApiLimits } from '../limits.js';

const L = FIXED_INPUT_LIMITS;

/** The nesting depth of a JSON value, counted without recursion; stops once past `max`. */
export function jsonDepth(value: unknown, max: number = Infinity): number {
  let deepest = 0;
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  while (stack.length) {
    const { v, d } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const depth = d + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > max) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
      if (child !== null && typeof child === 'object') stack.push({ v: child, d: depth });
    }
  }
  return deepest;
}

/** Throws JSON_TOO_DEEP naming the limit when `value` nests deeper than maxJsonDepth. */
export function checkJsonDepth(what: string, value: unknown): void {
  const depth = jsonDepth(value, L.maxJsonDepth);
  if (depth > L.maxJsonDepth) {
    throw new OutpostError('JSON_TOO_DEEP', {
      detail: limitDetail('maxJsonDepth', L.maxJsonDepth, `${what} nests deeper than ${L.maxJsonDepth}`),
      data: { limit: 'maxJsonDepth', value: L.maxJsonDepth },
    });
  }
}

function tooLarge(what: string, limit: string, value: number, got: number, unit = ''): OutpostError {
  return new OutpostError('INPUT_TOO_LARGE', {
    detail: limitDetail(limit, value, `${what} has ${got}${unit}`),
    data: { limit, value, got },
  });
}

const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v ?? null));

/**
 * A launch's or run request's op and asset selections, which ride in its workflow input: each
 * key is one of the location's, but a location may have very many (maxQuerySelectionBytes).
 */
export function checkSelection(input: { assetSelection?: unknown; opSelection?: unknown }): void {
  const selection = jsonBytes([input.opSelection, input.assetSelection]);
  if (selection > L.maxQuerySelectionBytes) {
    const what = 'opSelection and assetSelection';
    throw tooLarge(what, 'maxQuerySelectionBytes', L.maxQuerySelectionBytes, selection, ' bytes');
  }
}

/** launchRun's runConfig, tags and selections: what the agent can still launch (a Temporal workflow input). */
export function checkLaunchInput(
  input: { runConfig?: unknown; tags?: unknown; assetSelection?: unknown; opSelection?: unknown },
  limits: Pick<ApiLimits, 'maxRunConfigBytes' | 'maxRunTags' | 'maxRunTagsBytes'>,
): void {
  checkSelection(input);
  checkJsonDepth('runConfig', input.runConfig);
  checkJsonDepth('tags', input.tags);
  const config = jsonBytes(input.runConfig);
  if (config > limits.maxRunConfigBytes) {
    throw tooLarge('runConfig', 'maxRunConfigBytes', limits.maxRunConfigBytes, config, ' bytes');
  }
  if (input.tags && typeof input.tags === 'object') {
    const n = Object.keys(input.tags).length;
    if (n > limits.maxRunTags) throw tooLarge('tags', 'maxRunTags', limits.maxRunTags, n, ' keys');
    const bytes = jsonBytes(input.tags);
    if (bytes > limits.maxRunTagsBytes) {
      throw tooLarge('tags', 'maxRunTagsBytes', limits.maxRunTagsBytes, bytes, ' bytes');
    }
  }
}

/** deployCodeLocation's spec: see FIXED_INPUT_LIMITS.maxLocationSpecBytes. */
export function checkLocationSpec(spec: unknown): void {
  checkJsonDepth('the location spec', spec);
  const bytes = jsonBytes(spec);
  if (bytes > L.maxLocationSpecBytes) {
    throw tooLarge('the location spec', 'maxLocationSpecBytes', L.maxLocationSpecBytes, bytes, ' bytes');
  }
}

/**
 * queryCodeLocation's runConfig and selection: they travel to the agent as a Temporal workflow
 * input, like a launch's; past Temporal's limit the agent could not start the item's workflow.
 */
export function checkQueryInput(
  input: { runConfig?: unknown; partitionKey?: unknown; opSelection?: unknown; assetSelection?: unknown },
  limits: Pick<ApiLimits, 'maxRunConfigBytes'>,
): void {
  checkJsonDepth('runConfig', input.runConfig);
  const config = jsonBytes(input.runConfig);
  if (config > limits.maxRunConfigBytes) {
    throw tooLarge('runConfig', 'maxRunConfigBytes', limits.maxRunConfigBytes, config, ' bytes');
  }
  const { partitionKey, opSelection, assetSelection } = input;
  const selection = jsonBytes([partitionKey, opSelection, assetSelection]);
  if (selection > L.maxQuerySelectionBytes) {
    const what = 'partitionKey, opSelection and assetSelection';
    throw tooLarge(what, 'maxQuerySelectionBytes', L.maxQuerySelectionBytes, selection, ' bytes');
  }
}

/**
 * The run requests of one schedule or sensor evaluation (user code's answer, through the agent):
 * at most maxRunRequestsPerTick, each run key within maxRunKeyBytes. Each run's config and tags,
 * as they will be stored, are then held to a launch's rules (checkLaunchInput).
 */
export function checkRunRequests(requests: readonly { runKey?: string | undefined }[]): void {
  if (requests.length > L.maxRunRequestsPerTick) {
    const what = 'the evaluation';
    throw tooLarge(what, 'maxRunRequestsPerTick', L.maxRunRequestsPerTick, requests.length, ' run requests');
  }
  for (const [i, r] of requests.entries()) {
    const bytes = r.runKey === undefined ? 0 : Buffer.byteLength(r.runKey);
    if (bytes > L.maxRunKeyBytes) {
      throw tooLarge(`runRequests[${i}].runKey`, 'maxRunKeyBytes', L.maxRunKeyBytes, bytes, ' bytes');
    }
  }
}

/** A reported snapshot's job, schedule and sensor names: each within maxDefinitionNameLength. */
export function checkDefinitionNames(snapshot: {
  jobs: readonly { name: string }[];
  schedules: readonly { name: string }[];
  sensors: readonly { name: string }[];
}): void {
  const max = L.maxDefinitionNameLength;
  for (const kind of ['jobs', 'schedules', 'sensors'] as const) {
    for (const [i, d] of snapshot[kind].entries()) {
      if (d.name.length > max)
        throw tooLarge(`${kind}[${i}].name`, 'maxDefinitionNameLength', max, d.name.length, ' characters');
    }
  }
}

/** testSensor's cursor, which travels to the agent as a Temporal workflow input. */
export function checkSensorCursor(cursor: string | null | undefined): void {
  const bytes = cursor ? Buffer.byteLength(cursor) : 0;
  if (bytes > L.maxSensorCursorBytes) {
    throw tooLarge('cursor', 'maxSensorCursorBytes', L.maxSensorCursorBytes, bytes, ' bytes');
  }
}

/** Control, format (bidi overrides, zero-width) and line/paragraph separator characters. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** A label shown in lists and logs: printable, no bidi tricks, bounded. */
function checkLabel(what: string, value: string, limit: keyof typeof L): void {
  const max = L[limit];
  if (!value.trim()) throw new OutpostError('INVALID_ARGUMENT', { detail: `${what} must not be empty` });
  if (value.length > max) throw tooLarge(what, limit, max, value.length, ' characters');
  if (UNPRINTABLE.test(value)) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `${what} holds a control, bidi or invisible character; use printable text`,
    });
  }
}

export function checkTokenName(name: string): void {
  checkLabel('token name', name, 'maxTokenNameLength');
}

/** registerAgent: short fields and bounded metadata. */
export function checkAgentRegistration(input: {
  name: string;
  hostname: string;
  version: string;
  taskQueue: string;
  metadata?: unknown;
}): void {
  for (const f of ['name', 'hostname', 'version', 'taskQueue'] as const) {
    checkLabel(`agent ${f}`, input[f], 'maxAgentFieldLength');
  }
  checkJsonDepth('agent metadata', input.metadata);
  const bytes = jsonBytes(input.metadata ?? {});
  if (bytes > L.maxAgentMetadataBytes) {
    throw tooLarge('agent metadata', 'maxAgentMetadataBytes', L.maxAgentMetadataBytes, bytes, ' bytes');
  }
}

/** heartbeat: a bounded list of bounded error strings, and bounded code-server reports. */
export function checkHeartbeat(input: {
  codeServers: readonly { error?: string | null }[];
  runningRunIds: readonly string[];
  errors?: readonly string[] | null;
}): void {
  const errors = input.errors ?? [];
  if (errors.length > L.maxHeartbeatErrors) {
    throw tooLarge('heartbeat errors', 'maxHeartbeatErrors', L.maxHeartbeatErrors, errors.length, ' entries');
  }
  const texts = [...errors, ...input.codeServers.map((c) => c.error ?? '')];
  for (const e of texts) {
    if (e.length > L.maxHeartbeatErrorLength) {
      throw tooLarge(
        'a heartbeat error',
        'maxHeartbeatErrorLength',
        L.maxHeartbeatErrorLength,
        e.length,
        ' characters',
      );
    }
  }
  if (input.codeServers.length > L.maxHeartbeatEntries || input.runningRunIds.length > L.maxHeartbeatEntries) {
    const n = Math.max(input.codeServers.length, input.runningRunIds.length);
    throw tooLarge('heartbeat codeServers/runningRunIds', 'maxHeartbeatEntries', L.maxHeartbeatEntries, n, ' entries');
  }
}
