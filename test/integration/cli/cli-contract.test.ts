// The CLI as a scripting contract, run as a real child process against a real control plane
// (the agent's part played through the agent API): `runs show` pages past any limit,
// `--json` is valid JSON, `--follow --json` is NDJSON, failure outcomes exit non-zero, and
// durations are the API's, computed from event times.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHelloStack, startScriptedStack, type ScriptedStack } from '../../support/scripted-agent.js';

const BIN = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'outpost.mjs');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('outpost CLI contract', { timeout: 240_000 }, () => {
  let s: ScriptedStack;
  before(async () => {
    s = await startHelloStack();
  });
  after(() => s?.close());

  function cli(args: string[]): Promise<CliResult> {
    return new Promise((done, fail) => {
      // The token by environment: the CLI refuses one on its command line.
      const child = spawn(process.execPath, [BIN, ...args, '--url', s.url], {
        env: { ...process.env, OUTPOST_TOKEN: s.userToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }

  test('runs show prints every event, past the 1,000 of one page', async () => {
    const runId = await s.launch('hello');
    await s.claimLaunch(runId);
    const t = Date.now();
    await s.events(runId, [
      { type: 'RUN_START', timestamp: t },
      ...Array.from({ length: 1_498 }, (_, i) => ({
        type: 'LOG',
        level: 'info',
        message: `line ${i}`,
        timestamp: t + 1,
      })),
      { type: 'RUN_SUCCESS', timestamp: t + 9 },
    ]);
    const r = await cli(['runs', 'show', runId, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout) as { events: { seq: number; type: string }[]; durationMs: number };
    const worker = run.events.filter((e) => e.type !== 'ENGINE');
    assert.equal(worker.length, 1_500, 'all events, not the first page');
    assert.equal(new Set(run.events.map((e) => e.seq)).size, run.events.length, 'no event twice');
    assert.equal(run.durationMs, 9, 'from RUN_START to RUN_SUCCESS');
    const text = await cli(['runs', 'show', runId]);
    assert.match(text.stdout.split('\n')[0]!, /SUCCESS .* 9 ms$/, 'the same duration the UI shows');
    assert.match(text.stdout, /line 1497/);
  });

  test('runs logs --json prints one JSON document with the text', async () => {
    const runId = await s.launch('hello');
    await s.claimLaunch(runId);
    await s.log(runId, 'hello from outpost\nsecond line\n');
    const r = await cli(['runs', 'logs', runId, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { runId: string; stream: string; data: string };
    assert.equal(doc.runId, runId);
    assert.equal(doc.data, 'hello from outpost\nsecond line\n');
  });

  test('runs launch --follow --json is NDJSON, and exits 1 when the run fails', async () => {
    const child = cli(['runs', 'launch', 'hello', '--location', 'hello', '--follow', '--json']);
    // Play the agent for whatever run the CLI launched.
    let runId: string | undefined;
    for (let i = 0; i < 100 && !runId; i++) {
      const { runs } = await s.user<{ runs: { nodes: { id: string; status: string }[] } }>(
        '{ runs(first: 5, filter: { status: [QUEUED] }) { nodes { id status } } }',
      );
      runId = runs.nodes[0]?.id;
      if (!runId) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(runId, 'the CLI launched a run');
    await s.claimLaunch(runId);
    await s.events(runId, [{ type: 'RUN_START' }, { type: 'LOG', level: 'info', message: 'working' }]);
    await s.log(runId, 'partial line without newline');
    await s.events(runId, [{ type: 'RUN_FAILURE', error: { name: 'Error', message: 'boom' } }]);
    const r = await child;
    assert.equal(r.code, 1, `a failed run exits 1 (stderr: ${r.stderr})`);
    const lines = r.stdout.split('\n').filter(Boolean);
    const objects = lines.map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`line ${i + 1} is not JSON: ${l}`);
      }
    });
    assert.deepEqual(Object.keys(objects[0]!), ['launched']);
    assert.ok(objects.some((o) => 'event' in o));
    assert.ok(objects.some((o) => 'log' in o));
    const last = objects.at(-1) as { run: { id: string; status: string } };
    assert.equal(last.run.id, runId);
    assert.equal(last.run.status, 'FAILURE');
  });

  test('locations deploy and reload exit 1 when the location ends in ERROR', async () => {
    const deploying = cli(['locations', 'deploy', 'broken', '--module', 'nope.ts', '--timeout', '60', '--json']);
    await reportSyncAs('broken', 'SyntaxError in definitions.ts');
    const r = await deploying;
    assert.equal(r.code, 1, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { status: string }).status, 'ERROR');

    const reloading = cli(['locations', 'reload', 'broken']);
    await reportSyncAs('broken', 'still broken');
    const rr = await reloading;
    assert.equal(rr.code, 1);
    assert.match(rr.stdout, /broken: ERROR/);
    // Its load error says why; "no healthy agent serves it" would send the user to the agents.
    assert.match(rr.stdout, /still broken/);
    assert.doesNotMatch(rr.stdout, /unreachable/);
  });

  test('locations list says UNREACHABLE when no healthy agent serves a location', async () => {
    await s.heartbeat([]);
    const r = await cli(['locations', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hello\s+LOADED\s+UNREACHABLE/);
    await s.heartbeat(['hello']);
    assert.match((await cli(['locations', 'list'])).stdout, /hello\s+LOADED\s+reachable/);
  });

  test('a queued run says when it waits for an agent, as the UI does', async () => {
    // Healthy agent (heartbeat just sent): a queued run carries no such hint.
    await s.heartbeat(['hello']);
    const withAgent = await cli(['runs', 'launch', 'hello']);
    assert.equal(withAgent.code, 0, withAgent.stderr);
    assert.doesNotMatch(withAgent.stdout, /waiting for an agent/);
    // No agent heard from within 3 heartbeat intervals (50 ms here): launch and show say so.
    const lonely = await startScriptedStack({ storeLimits: { heartbeatIntervalMs: 50 } });
    try {
      const v = await lonely.deploy('hello');
      await lonely.report('hello', v, { snapshot: await lonely.helloSnapshot() });
      await new Promise((r) => setTimeout(r, 300));
      const run = (args: string[]) =>
        new Promise<CliResult>((done, fail) => {
          const child = spawn(process.execPath, [BIN, ...args, '--url', lonely.url], {
            env: { ...process.env, OUTPOST_TOKEN: lonely.userToken },
          });
          let stdout = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.on('error', fail);
          child.on('close', (code) => done({ code, stdout, stderr: '' }));
        });
      const launched = await run(['runs', 'launch', 'hello']);
      assert.equal(launched.code, 0);
      assert.match(launched.stdout, /QUEUED\)\nwaiting for an agent: no agent is healthy/);
      const id = /launched run (\S+)/.exec(launched.stdout)![1]!;
      assert.match((await run(['runs', 'show', id])).stdout, /QUEUED .*\nwaiting for an agent/);
    } finally {
      await lonely.close();
    }
  });

  /** Claims the location's sync item as the agent does, and reports the load failed. */
  async function reportSyncAs(name: string, error: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const { claimWork } = await s.agent<{
        claimWork: { id: string; kind: string; payload: { location: string; version: number } }[];
      }>('mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 200) { id kind payload } }', { a: s.agentId });
      const item = claimWork.find((w) => w.kind === 'SYNC_CODE_LOCATION' && w.payload.location === name);
      if (!item) continue;
      await s.report(name, item.payload.version, { error });
      await s.agent(
        'mutation($a: ID!, $id: ID!, $r: JSON!) { completeWork(agentId: $a, id: $id, result: $r) { id } }',
        {
          a: s.agentId,
          id: item.id,
          r: { status: 'ERROR', error },
        },
      );
      return;
    }
    throw new Error(`no sync item for ${name}`);
  }
});
