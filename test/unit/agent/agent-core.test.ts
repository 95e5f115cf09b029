// Pure parts of the agent: config and token reading, child environments, backoff, workflow
// start options per work item, and the definitions → snapshot mapping.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { backoffDelay } from '../../../src/shared/backoff.js';
import { loadAgentConfig, readAgentToken } from '../../../src/agent/config.js';
import { credentialFreeEnv } from '../../../src/shared/child-env.js';
import { agentEndpoint } from '../../../src/agent/control-plane-client.js';
import { hostTaskQueue, readAgentId, writeAgentId } from '../../../src/agent/agent-identity.js';
import { snapshotFromDefinitions } from '../../../src/agent/definitions-snapshot.js';
import { workflowStartFor } from '../../../src/agent/poller.js';
import { DefaultStatus, GetDefinitionsResponse } from '../../../src/gen/outpost/codeserver/v1/code_server.js';
import { isOutpostError } from '../../../src/shared/errors.js';

describe('agent config', () => {
  test('defaults, and flags win over the environment', () => {
    const cfg = loadAgentConfig({}, { OUTPOST_URL: 'http://127.0.0.1:3000', OUTPOST_TASK_QUEUE: 'q-env' });
    assert.equal(cfg.temporalAddress, '127.0.0.1:7233');
    assert.equal(cfg.taskQueue, 'q-env');
    assert.equal(cfg.maxInFlight, 16);
    assert.equal(cfg.metricsPort, undefined);
    assert.ok(cfg.dataDir.endsWith(join('.outpost', 'agent')));
    const flagged = loadAgentConfig(
      { taskQueue: 'q-flag', maxInFlight: '3' },
      { OUTPOST_URL: 'http://h:1', OUTPOST_TASK_QUEUE: 'q-env' },
    );
    assert.equal(flagged.taskQueue, 'q-flag');
    assert.equal(flagged.maxInFlight, 3);
  });

  test('a bad value names its flag and variable', () => {
    assert.throws(
      () => loadAgentConfig({ maxInFlight: '0' }, { OUTPOST_URL: 'http://h:1' }),
      (e: unknown) =>
        isOutpostError(e, 'CONFIG_INVALID') && /--max-in-flight \/ OUTPOST_AGENT_MAX_IN_FLIGHT/.test(e.message),
    );
    assert.throws(
      () => loadAgentConfig({}, {}),
      (e: unknown) => isOutpostError(e, 'CONFIG_INVALID') && /--url/.test(e.message),
    );
  });

  test('the token comes from the file first, then the environment, and is never in the error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-token-'));
    const file = join(dir, 'agent.token');
    writeFileSync(file, 'from-file\n');
    assert.equal(readAgentToken({ tokenFile: file }, { OUTPOST_AGENT_TOKEN: 'from-env' }), 'from-file');
    assert.equal(readAgentToken({}, { OUTPOST_AGENT_TOKEN: 'from-env' }), 'from-env');
    assert.throws(
      () => readAgentToken({}, {}),
      (e: unknown) => isOutpostError(e, 'CONFIG_INVALID'),
    );
    writeFileSync(file, '\n');
    assert.throws(
      () => readAgentToken({ tokenFile: file }, {}),
      (e: unknown) => isOutpostError(e, 'CONFIG_INVALID'),
    );
  });

  test('child environments never carry a token variable', () => {
    const env = credentialFreeEnv(
      {
        PATH: '/bin',
        OUTPOST_AGENT_TOKEN: 'a',
        OUTPOST_USER_TOKEN: 'b',
        OUTPOST_AGENT_TOKEN_FILE: 'c',
        OUTPOST_URL: 'u',
      },
      { OUTPOST_TOKEN_X: 'd', EXTRA: 'e' },
    );
    assert.deepEqual(env, { PATH: '/bin', EXTRA: 'e' });
  });

  test('agent id persists in the data dir and names the host queue', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-id-'));
    assert.equal(readAgentId(dir), undefined);
    writeAgentId(dir, 'agent_x1');
    assert.equal(readAgentId(dir), 'agent_x1');
    assert.equal(hostTaskQueue('agent_x1'), 'outpost-host-agent_x1');
  });

  test('endpoint joins the agent API path once', () => {
    assert.equal(agentEndpoint('http://h:3000'), 'http://h:3000/agent/graphql');
    assert.equal(agentEndpoint('http://h:3000/'), 'http://h:3000/agent/graphql');
    assert.equal(agentEndpoint('http://h:3000/agent/graphql'), 'http://h:3000/agent/graphql');
  });
});

test('backoff grows, is capped, and jitters within [cap/2, cap]', () => {
  assert.equal(backoffDelay(0, { initialMs: 100, random: () => 0 }), 50);
  assert.equal(backoffDelay(0, { initialMs: 100, random: () => 1 }), 100);
  assert.equal(backoffDelay(3, { initialMs: 100, random: () => 1 }), 800);
  assert.equal(backoffDelay(50, { initialMs: 100, maxMs: 5_000, random: () => 1 }), 5_000);
  assert.equal(backoffDelay(50, { initialMs: 100, maxMs: 5_000, random: () => 0 }), 2_500);
});

describe('workflowStartFor', () => {
  const launch = {
    id: 'wi_1',
    kind: 'LAUNCH_RUN',
    attempts: 1,
    runId: 'run_1',
    payload: { runId: 'run_1', location: 'hello', job: 'hello', runConfig: {}, tags: {} },
  };

  test('a launch becomes run-<runId> with USE_EXISTING, summary and search attributes', () => {
    const s = workflowStartFor(launch, 'outpost-agent');
    assert.equal(s.workflowType, 'runWorkflowV4');
    assert.equal(s.options.workflowId, 'run-run_1');
    assert.equal(s.options.taskQueue, 'outpost-agent');
    assert.equal(s.options.workflowIdConflictPolicy, 'USE_EXISTING');
    assert.equal(s.options.workflowIdReusePolicy, 'REJECT_DUPLICATE');
    assert.match(s.options.staticSummary, /LAUNCH_RUN: job hello in hello run run_1/);
    const attrs = Object.fromEntries(s.options.typedSearchAttributes.map((a) => [a.key.name, a.value]));
    assert.deepEqual(attrs, {
      OutpostWorkItemKind: 'LAUNCH_RUN',
      OutpostRunId: 'run_1',
      OutpostJob: 'hello',
      OutpostLocation: 'hello',
    });
    assert.deepEqual(s.options.args, [{ workItemId: 'wi_1', payload: launch.payload }]);
  });

  test('other kinds become wi-<itemId>', () => {
    const s = workflowStartFor(
      { id: 'wi_2', kind: 'TERMINATE_RUN', attempts: 1, runId: 'run_1', payload: { runId: 'run_1' } },
      'q',
    );
    assert.equal(s.workflowType, 'terminateRunWorkflow');
    assert.equal(s.options.workflowId, 'wi-wi_2');
    const sensor = workflowStartFor(
      {
        id: 'wi_3',
        kind: 'EVALUATE_SENSOR',
        attempts: 1,
        runId: null,
        payload: { location: 'hello', sensor: 's', cursor: null },
      },
      'q',
    );
    assert.equal(sensor.workflowType, 'evaluateSensorWorkflowV3');
    assert.equal(sensor.options.workflowId, 'wi-wi_3');
  });

  test('an unknown kind is UNKNOWN_KIND and a bad payload INVALID_ARGUMENT', () => {
    assert.throws(
      () => workflowStartFor({ ...launch, kind: 'SELF_DESTRUCT' }, 'q'),
      (e: unknown) => isOutpostError(e, 'UNKNOWN_KIND'),
    );
    assert.throws(
      () => workflowStartFor({ ...launch, payload: { runId: 'run_1' } }, 'q'),
      (e: unknown) => isOutpostError(e, 'INVALID_ARGUMENT') && /location/.test(e.message),
    );
  });
});

test('snapshotFromDefinitions maps jobs, schedules, sensors and partitions', () => {
  const defs = GetDefinitionsResponse.fromPartial({
    locationName: 'hello',
    jobs: [
      {
        name: 'sleepy',
        configSchemaJson: '{"type":"object"}',
        ops: [{ name: 'nap', inputs: [{ name: 'x', fromOp: 'a', fromOutput: 'result' }], outputs: ['result'] }],
        partitions: 'regions',
      },
    ],
    schedules: [
      { name: 'every_minute', job: 'hello', cron: '* * * * *', defaultStatus: DefaultStatus.DEFAULT_STATUS_RUNNING },
    ],
    sensors: [{ name: 'file_sensor', job: 'hello', minIntervalSeconds: 0 }],
    partitions: [{ name: 'regions', kind: { $case: 'static', value: { keys: ['eu', 'us'] } } }],
  });
  const snap = snapshotFromDefinitions(defs, { serverId: 'srv_1' });
  assert.deepEqual(snap.jobs[0]?.configSchema, { type: 'object' });
  assert.equal(snap.jobs[0]?.partitions, 'regions');
  assert.deepEqual(snap.jobs[0]?.ops[0]?.inputs, [{ name: 'x', fromOp: 'a', fromOutput: 'result' }]);
  assert.equal(snap.schedules[0]?.timezone, 'UTC');
  assert.equal(snap.schedules[0]?.defaultStatus, 'RUNNING');
  assert.equal(snap.sensors[0]?.minIntervalSeconds, 30);
  assert.equal(snap.sensors[0]?.defaultStatus, 'STOPPED');
  assert.deepEqual(snap.partitions[0], { name: 'regions', kind: 'static', keys: ['eu', 'us'] });
  assert.equal(snap.serverId, 'srv_1');
  assert.throws(
    () =>
      snapshotFromDefinitions(GetDefinitionsResponse.fromPartial({ jobs: [{ name: 'x', configSchemaJson: '[1]' }] })),
    (e: unknown) => isOutpostError(e, 'CODE_SERVER_BAD_RESPONSE'),
  );
});
