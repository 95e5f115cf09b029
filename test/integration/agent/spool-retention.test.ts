// Run spools used to stay on the agent's disk for ever. A finished run's directory now goes once
// the control plane stores all its events and logs and its retention period has passed; a live
// run's, a run's with bytes the control plane lacks, one whose logs the control plane's per-run cap
// cut (the spool is then their only full copy), or one within its retention period stays.
// Real control plane, real Temporal, a real agent running real runs of examples/hello.
import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadAgentConfig } from '../../../src/agent/config.js';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import {
  MAX_CURSOR_QUESTIONS_PER_SWEEP,
  newSweepMemory,
  startSpoolRetention,
  sweepRunDirs,
  type SpoolRetentionOptions,
  type SweepMemory,
} from '../../../src/agent/spool-retention.js';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { createLogger } from '../../../src/shared/logger.js';
import { testTemporal } from '../../support/temporal.js';
import { startRelay } from '../../support/relay.js';
import { startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();
const LOG_CAP = 12;
let stack: Stack;
let agent: RunningAgent;

before(async () => {
  // A log cap that greet_region's "hello eu\n" fits in and hello's "hello from outpost\n" does not.
  stack = await startStack({ temporalAddress: t.address, storeLimits: { computeLogCapBytes: LOG_CAP } });
  agent = await stack.startAgent('all');
  await stack.deploy('hello', 'examples/hello/definitions.ts');
});
after(async () => {
  await stack?.close();
});

/** greet_region for one partition: prints "hello <key>\n" (9 bytes, within LOG_CAP). */
const launchRegion = async (partitionKey: string): Promise<string> =>
  (
    await stack.gql<{ launchRun: { id: string } }>(
      `mutation($input: LaunchRunInput!) { launchRun(input: $input) { id } }`,
      { input: { location: 'hello', job: 'greet_region', partitionKey } },
    )
  ).launchRun.id;

const retentionOptions = (retentionMs: number, controlPlane: SpoolRetentionOptions['controlPlane']) => ({
  dataDir: join(agent.launcher.runDir('x'), '..', '..'),
  retentionMs,
  controlPlane,
  agentId: () => agent.agentId,
  busy: (runId: string) => agent.launcher.busy(runId),
  now: Date.now,
  logger: createLogger({ name: 'test-retention', level: 'silent' }),
});
const sweep = (retentionMs: number, memory?: SweepMemory) =>
  sweepRunDirs(retentionOptions(retentionMs, agent.controlPlane), memory);

test('a finished, fully stored run goes once its retention has passed; one within it, one the control plane lacks bytes of, one with logs past the cap, and a live one stay', async () => {
  const done = await launchRegion('eu');
  const unstored = await launchRegion('us');
  const capped = await stack.launch('hello');
  await stack.waitRun(done, ['SUCCESS']);
  await stack.waitRun(unstored, ['SUCCESS']);
  await stack.waitRun(capped, ['SUCCESS']);
  const live = await stack.launch('sleepy', { seconds: 60 });
  await stack.waitRun(live, ['STARTED']);
  for (const id of [done, unstored, capped, live]) assert.ok(existsSync(agent.launcher.spoolDir(id)), `spool of ${id}`);

  // Within its retention period: kept, whatever the control plane holds.
  const early = await sweep(3_600_000);
  assert.deepEqual(early.deleted, []);
  assert.equal(early.kept.get(done), 'within its retention period');

  // Bytes written after the run that the control plane never got (a shipment still owed).
  await until('the runs fully shipped', async () => {
    const c = await agent.controlPlane.runCursor(agent.agentId, unstored);
    const d = await agent.controlPlane.runCursor(agent.agentId, capped);
    return c.stdoutBytes > 0 && d.stdoutBytes > 0 ? c : undefined;
  });
  appendFileSync(join(agent.launcher.spoolDir(unstored), 'stdout.log'), 'not shipped\n');

  const swept = await until('the finished run deleted', async () => {
    const r = await sweep(0);
    return existsSync(agent.launcher.runDir(done)) ? undefined : r;
  });
  assert.ok(swept.deleted.includes(done));
  assert.equal(swept.kept.get(unstored), 'stdout not fully stored');
  // The control plane holds its first LOG_CAP bytes and a marker; the spool holds all of them.
  assert.equal(swept.kept.get(capped), 'logs truncated by the control plane: the spool is their only full copy');
  assert.match(await stack.computeLogs(capped, 'stdout'), /compute logs truncated/);
  assert.ok(existsSync(join(agent.launcher.spoolDir(capped), 'stdout.log')));
  assert.match(swept.kept.get(live) ?? '', /^(live here|its worker is alive)$/);
  assert.ok(existsSync(agent.launcher.spoolDir(live)));
  assert.ok(existsSync(agent.launcher.spoolDir(unstored)));
  // The events and logs stay readable where they are stored.
  assert.match(await stack.computeLogs(done, 'stdout'), /hello eu/);
  assert.ok(!readdirSync(join(agent.launcher.runDir(done), '..')).includes(done));
});

test('a directory created or written while a sweep runs is within its retention period, whatever the control plane then says', async () => {
  // A kill -9 between a launch's mkdir and its first file (a warm launch waiting for a standby)
  // left an empty directory; the restarted agent's first sweep saw it empty, asked about it, and
  // by the answer the relaunched run had finished and stored everything: the sweep deleted the
  // run directory, spool and all, seconds after its last write.
  const emptied = await launchRegion('eu');
  const rewritten = await launchRegion('us');
  for (const id of [emptied, rewritten]) {
    await stack.waitRun(id, ['SUCCESS']);
    await until(`${id} shipped`, async () =>
      (await agent.controlPlane.runCursor(agent.agentId, id)).stdoutBytes > 0 ? true : undefined,
    );
  }
  // An empty directory made a moment ago, as the launch's mkdir leaves it.
  rmSync(agent.launcher.runDir(emptied), { recursive: true });
  mkdirSync(agent.launcher.runDir(emptied), { mode: 0o700 });
  // Entries and directories all written two days ago, and a write while the sweep waits for the
  // control plane's answer (a recovering launch's first file).
  const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
  const dir = agent.launcher.runDir(rewritten);
  const spool = agent.launcher.spoolDir(rewritten);
  for (const d of [spool, dir]) {
    for (const name of readdirSync(d)) utimesSync(join(d, name), twoDaysAgo, twoDaysAgo);
    utimesSync(d, twoDaysAgo, twoDaysAgo);
  }
  const slow: SpoolRetentionOptions['controlPlane'] = {
    async retentionCursor(agentId, runId) {
      if (runId === rewritten) writeFileSync(join(dir, 'late-write'), '');
      return agent.controlPlane.retentionCursor(agentId, runId);
    },
  };
  const r = await sweepRunDirs(retentionOptions(3_600_000, slow));
  assert.equal(r.kept.get(emptied), 'within its retention period');
  assert.equal(r.kept.get(rewritten), 'within its retention period');
  assert.ok(existsSync(agent.launcher.runDir(emptied)));
  assert.ok(existsSync(join(spool, 'stdout.log')));
});

test('a sweep asks the control plane about a bounded number of directories, least recently asked first, and not again soon about one it cannot judge or whose logs were cut', async () => {
  // Directories the control plane has never heard of (UNKNOWN_RUN): one more than a sweep asks about.
  const root = join(agent.launcher.runDir('x'), '..');
  const strays = Array.from({ length: MAX_CURSOR_QUESTIONS_PER_SWEEP + 1 }, (_, i) => `stray-${i}`);
  for (const id of strays) mkdirSync(join(root, id));
  try {
    const memory = newSweepMemory();
    const first = await sweep(0, memory);
    const notAsked = (r: typeof first) => [...r.kept].filter(([, why]) => why.startsWith('not asked this sweep'));
    assert.ok(notAsked(first).length >= 1, 'some directory waits for a later sweep');
    assert.match(
      first.kept.get(strays[0]!) ?? '',
      /^control plane did not answer: OUTPOST_ERR_(UNKNOWN_RUN|RUN_NOT_OWNED)$/,
    );
    const second = await sweep(0, memory);
    // The ones asked before are not asked again soon (settled answers); the rest are asked now.
    assert.equal(second.kept.get(strays[0]!), 'asked recently; its answer will not change soon');
    for (const [id] of notAsked(first)) assert.doesNotMatch(second.kept.get(id) ?? '', /^not asked this sweep/, id);
    const capped = [...second.kept].find(([, why]) => why.startsWith('logs truncated'));
    assert.equal(capped, undefined, 'the run with cut logs was asked in the first sweep and waits');
  } finally {
    for (const id of strays) rmSync(join(root, id), { recursive: true, force: true });
  }
});

test('sweeps never overlap, and none runs or asks after stop()', async () => {
  let inFlight = 0;
  let most = 0;
  let calls = 0;
  let stopped = false;
  let afterStop = 0;
  // The real client, counted.
  const counted: SpoolRetentionOptions['controlPlane'] = {
    async retentionCursor(agentId, runId) {
      calls++;
      if (stopped) afterStop++;
      most = Math.max(most, ++inFlight);
      try {
        return await agent.controlPlane.retentionCursor(agentId, runId);
      } finally {
        inFlight--;
      }
    },
  };
  // Every millisecond: far shorter than a sweep, which asks about the run with unstored stdout each time.
  const retention = startSpoolRetention({ ...retentionOptions(0, counted), everyMs: 1 });
  await until('several sweeps', () => (calls >= 5 ? true : undefined));
  stopped = true;
  await retention.stop();
  const atStop = calls;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(most, 1, 'one question at a time: sweeps do not pile up');
  assert.equal(afterStop, 0, 'no question after stop()');
  assert.equal(calls, atStop);
});

test('a control plane from before RunCursor.logsTruncated refuses the field: the sweep keeps a finished, fully stored run', async () => {
  const run = await launchRegion('apac');
  await stack.waitRun(run, ['SUCCESS']);
  await until('the run shipped', async () =>
    (await agent.controlPlane.runCursor(agent.agentId, run)).stdoutBytes > 0 ? true : undefined,
  );
  // The agent schema without the field, validated as graphql-js does in any control plane.
  const sdl = readFileSync(new URL('../../../src/control-plane/graphql/agent.graphql', import.meta.url), 'utf8');
  assert.match(sdl, /^\s*logsTruncated: Boolean!$/m);
  const older = buildSchema(sdl.replace(/^\s*logsTruncated: Boolean!$/m, ''));
  const relay = await startRelay(stack.cp.url, (_req, body, res) => {
    const errors = validate(older, parse((JSON.parse(body.toString('utf8')) as { query: string }).query));
    if (!errors.length) return body;
    res.writeHead(400, { 'content-type': 'application/graphql-response+json' });
    res.end(JSON.stringify({ errors: errors.map((e) => ({ message: e.message })) }));
    return undefined;
  });
  try {
    const client = createControlPlaneClient({ url: relay.url, token: stack.agentToken });
    const r = await sweepRunDirs(retentionOptions(0, client));
    assert.equal(r.kept.get(run), 'the control plane does not say whether it truncated the logs (older)');
    assert.ok(existsSync(agent.launcher.spoolDir(run)));
    // The same sweep through the current control plane deletes it.
    assert.ok((await sweep(0)).deleted.includes(run));
  } finally {
    await relay.close();
  }
});

test('--spool-retention-hours defaults to 24 and 0 turns deletion off', () => {
  assert.equal(loadAgentConfig({ url: 'http://127.0.0.1:1' }, {}).spoolRetentionHours, 24);
  assert.equal(loadAgentConfig({ url: 'http://127.0.0.1:1', spoolRetentionHours: '0' }, {}).spoolRetentionHours, 0);
  assert.equal(
    loadAgentConfig({ url: 'http://127.0.0.1:1' }, { OUTPOST_AGENT_SPOOL_RETENTION_HOURS: '1.5' }).spoolRetentionHours,
    1.5,
  );
});
