// A work item whose workflow Temporal refuses for good (an input past Temporal's payload size
// limit, gRPC INVALID_ARGUMENT) fails once with a coded error; it must not be retried forever,
// which held one of the agent's in-flight slots per claim until no run could launch. Real
// control plane, real Temporal, the agent's real poller.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@temporalio/client';
import protos from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time.js';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Poller, workflowStartFor } from '../../../src/agent/poller.js';
import { startOutpostAgent } from '../../../src/cli/agent-root.js';
import { loadAgentConfig } from '../../../src/agent/config.js';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { SA_NAMES } from '../../../src/shared/search-attribute-names.js';
import { enqueueWork } from '../../../src/control-plane/store/work-items.js';
import { createLogger } from '../../../src/shared/logger.js';
import { testTemporal } from '../../support/temporal.js';
import { startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';
import { capturedLogger } from '../../support/captured-log.js';

const t = await testTemporal();
let stack: Stack;

before(async () => {
  stack = await startStack({ temporalAddress: t.address });
  await stack.startAgent('worker');
});
after(async () => {
  await stack?.close();
});

test('a workflow input Temporal refuses (3 MB) fails its item with a code instead of retrying forever', async () => {
  // Straight into the queue: the user API refuses such a runConfig itself (maxRunConfigBytes).
  const { item } = await enqueueWork(stack.cp.store, {
    kind: 'QUERY_CODE_LOCATION',
    payload: { location: 'hello', job: 'hello', query: 'executionPlan', runConfig: { blob: 'x'.repeat(3_000_000) } },
  });
  const agent = stack.agent!;
  const claimed = await agent.controlPlane.claimWork(agent.agentId, 10, 2_000);
  const mine = claimed.find((c) => c.id === item.id);
  assert.ok(mine, 'the item was claimed');
  const poller = new Poller({
    controlPlane: agent.controlPlane,
    temporal: t.client,
    agentId: agent.agentId,
    taskQueue: stack.taskQueue,
    maxInFlight: 16,
    logger: createLogger({ name: 'test-poller', level: 'silent' }),
    waitMs: 1_000,
  });
  const abort = new AbortController();
  const dispatched = poller.dispatch(mine, abort.signal);
  try {
    const failed = await until(
      'the item FAILED',
      async () => {
        const r = await stack.gql<{ workItem: { status: string; error: { code: string; message: string } | null } }>(
          'query($id: ID!) { workItem(id: $id) { status error { code message } } }',
          { id: item.id },
        );
        return r.workItem.status === 'FAILED' ? r.workItem : undefined;
      },
      30_000,
    );
    assert.equal(failed.error?.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    assert.match(failed.error?.message ?? '', /Temporal refused the workflow of QUERY_CODE_LOCATION item/);
  } finally {
    abort.abort();
    await dispatched;
  }
});

test("a namespace without Outpost's search attributes (the cluster's setup, not the item) is retried, not failed: the workflow starts once they are registered", async () => {
  // A namespace of its own, created bare: what a real cluster is before its operator registers them.
  const namespace = `bare-${process.pid}-${Date.now().toString(36)}`;
  const connection = t.client.connection;
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  const bare = new Client({ connection, namespace });
  const { item } = await enqueueWork(stack.cp.store, {
    kind: 'QUERY_CODE_LOCATION',
    payload: { location: 'hello', job: 'hello', query: 'executionPlan' },
  });
  const agent = stack.agent!;
  const claimed = await agent.controlPlane.claimWork(agent.agentId, 10, 2_000);
  const mine = claimed.find((c) => c.id === item.id);
  assert.ok(mine, 'the item was claimed');
  const { logger, lines } = capturedLogger('test-poller', 'warn');
  const poller = new Poller({
    controlPlane: agent.controlPlane,
    temporal: bare,
    agentId: agent.agentId,
    taskQueue: stack.taskQueue,
    maxInFlight: 16,
    logger,
    waitMs: 1_000,
  });
  const abort = new AbortController();
  const dispatched = poller.dispatch(mine, abort.signal);
  try {
    await until('the start was refused for the search attribute', () =>
      lines.some((l) => /retrying/.test(l) && /no mapping defined for search attribute/.test(l)) ? true : undefined,
    );
    const kw = protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(Object.values(SA_NAMES).map((n) => [n, kw])),
    });
    const { workflowId } = workflowStartFor(mine, stack.taskQueue).options;
    await until(
      'the workflow started',
      async () =>
        (await bare.workflow
          .getHandle(workflowId)
          .describe()
          .catch(() => undefined))
          ? true
          : undefined,
      60_000,
    );
    const r = await stack.gql<{ workItem: { status: string } }>('query($id: ID!) { workItem(id: $id) { status } }', {
      id: item.id,
    });
    assert.notEqual(r.workItem.status, 'FAILED');
  } finally {
    abort.abort();
    await dispatched;
  }
});

test('an ack still waiting when its work stops is given up with it, not retried against a gone control plane forever', async () => {
  // The ack of a started workflow waits for the next claim or its timer; when the agent stops and
  // the control plane is gone, that timed send kept retrying (and the process alive) for good.
  const { item } = await enqueueWork(stack.cp.store, {
    kind: 'QUERY_CODE_LOCATION',
    payload: { location: 'hello', job: 'hello', query: 'executionPlan' },
  });
  const agent = stack.agent!;
  const claimed = await agent.controlPlane.claimWork(agent.agentId, 10, 2_000);
  const mine = claimed.find((c) => c.id === item.id);
  assert.ok(mine, 'the item was claimed');
  const closed = createServer().listen(0, '127.0.0.1');
  await new Promise((res) => closed.once('listening', res));
  const { port } = closed.address() as { port: number };
  await new Promise((res) => closed.close(res));
  const { logger, lines } = capturedLogger('test-poller', 'warn');
  const poller = new Poller({
    controlPlane: createControlPlaneClient({ url: `http://127.0.0.1:${port}`, token: 'unused' }),
    temporal: t.client,
    agentId: agent.agentId,
    taskQueue: stack.taskQueue,
    maxInFlight: 16,
    logger,
    waitMs: 1_000,
    ackDelayMs: 50,
  });
  const abort = new AbortController();
  await poller.dispatch(mine, abort.signal);
  await until('the ack was tried and refused', () =>
    lines.some((l) => /"what":"ackWork"/.test(l) && /retrying/.test(l)) ? true : undefined,
  );
  abort.abort();
  await until('the ack was given up with the stop', () =>
    lines.some((l) => /"what":"ackWork"/.test(l) && /stopping with the item unfinished/.test(l)) ? true : undefined,
  );
});

test("an agent refuses to start on a namespace without Outpost's search attributes, naming them, and starts once they are registered", async () => {
  // Before: it started, and every item it claimed then waited on retries with nothing said at start.
  const namespace = `bare-start-${process.pid}-${Date.now().toString(36)}`;
  const connection = t.client.connection;
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-sa-check-'));
  const start = (mode: 'all' | 'poller', ns = namespace) =>
    startOutpostAgent({
      config: loadAgentConfig(
        {
          url: stack.cp.url,
          temporalAddress: t.address,
          temporalNamespace: ns,
          taskQueue: stack.taskQueue,
          dataDir: join(dataDir, `${mode}-${ns}`),
        },
        {},
      ),
      token: stack.agentToken,
      logger: createLogger({ name: 'sa-check', level: 'silent' }),
      mode,
    });
  for (const mode of ['all', 'poller'] as const) {
    await assert.rejects(start(mode), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'OUTPOST_ERR_TEMPORAL_SEARCH_ATTRIBUTES_MISSING', `${mode}: ${err.message}`);
      for (const name of Object.values(SA_NAMES)) assert.match(err.message, new RegExp(name));
      return true;
    });
  }
  // A namespace that does not exist at all is the flag's mistake, said as such.
  const missing = `${namespace}-missing`;
  await assert.rejects(start('poller', missing), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'OUTPOST_ERR_CONFIG_INVALID', err.message);
    assert.match(err.message, new RegExp(`--temporal-namespace: Temporal has no namespace ${missing}`));
    return true;
  });
  const kw = protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(Object.values(SA_NAMES).map((n) => [n, kw])),
  });
  const agent = await until('the agent started', () => start('poller').catch(() => undefined), 30_000);
  await agent.stop();
});
