// The CLI for Dagster locations, run as a real child process against a real control plane (the
// agent's part played through the agent API): `locations deploy --dagster`, kind and Dagster
// version in `locations list/show`, `assets list`, and `schedules test` / `sensors test`
// answered by the agent without launching anything.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startScriptedStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { DAGSTER_SNAPSHOT } from '../control-plane/dagster-location.js';

const BIN = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'outpost.mjs');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

type Item = { id: string; kind: string; payload: Record<string, unknown> };

describe('outpost CLI: Dagster locations', { timeout: 240_000 }, () => {
  let s: ScriptedStack;
  before(async () => {
    s = await startScriptedStack();
  });
  after(() => s?.close());

  function cli(args: string[]): Promise<CliResult> {
    return new Promise((done, fail) => {
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

  /** Plays the agent for the next item of `kind`: completes it with `result` or fails it with `error`. */
  async function answer(kind: string, outcome: { result: unknown } | { error: { code: string; message: string } }) {
    for (let i = 0; i < 100; i++) {
      const { claimWork } = await s.agent<{ claimWork: Item[] }>(
        'mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 200) { id kind payload } }',
        { a: s.agentId },
      );
      const item = claimWork.find((w) => w.kind === kind);
      if (!item) continue;
      if ('result' in outcome) {
        await s.agent(
          'mutation($a: ID!, $i: ID!, $r: JSON!) { completeWork(agentId: $a, id: $i, result: $r) { id } }',
          {
            a: s.agentId,
            i: item.id,
            r: outcome.result,
          },
        );
      } else {
        await s.agent(
          'mutation($a: ID!, $i: ID!, $e: WorkErrorInput!) { failWork(agentId: $a, id: $i, error: $e) { id } }',
          { a: s.agentId, i: item.id, e: outcome.error },
        );
      }
      return item;
    }
    throw new Error(`no ${kind} item`);
  }

  test('locations deploy --dagster declares the location; list and show print kind and Dagster version', async () => {
    const d = await cli([
      'locations',
      'deploy',
      'dag',
      '--dagster',
      '--python',
      '/venv/bin/python',
      '--python-file',
      'defs.py',
      '--working-directory',
      '/srv/code',
      '--attribute',
      'defs',
      '--no-wait',
      '--json',
    ]);
    assert.equal(d.code, 0, d.stderr);
    const deployed = JSON.parse(d.stdout) as { version: number; kind: string };
    assert.equal(deployed.kind, 'DAGSTER');
    const spec = await s.user<{ codeLocation: { spec: unknown } }>('{ codeLocation(name: "dag") { spec } }');
    assert.deepEqual(spec.codeLocation.spec, {
      name: 'dag',
      dagster: {
        python: '/venv/bin/python',
        pythonFile: '/srv/code/defs.py',
        attribute: 'defs',
        workingDirectory: '/srv/code',
      },
    });
    await s.report('dag', deployed.version, { snapshot: DAGSTER_SNAPSHOT });
    const list = await cli(['locations', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+STATUS\s+AGENT\s+VERSION\s+JOBS\s+KIND\s+DAGSTER\s+ERROR/);
    assert.match(list.stdout, /\ndag\s+LOADED\s+\S+\s+\d+\s+3\s+DAGSTER\s+1\.13\.29/);
    const show = await cli(['locations', 'show', 'dag']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(
      show.stdout,
      /dag: LOADED \(Dagster 1\.13\.29, version \d+\); jobs: .*; assets: raw\/customers, summary/,
    );
    const assets = await cli(['assets', 'list', 'dag']);
    assert.equal(assets.code, 0, assets.stderr);
    assert.match(assets.stdout, /raw\/customers\s+ingest\s+__ASSET_JOB,customer_job\s+never/);
    // Dagster automation Outpost does not evaluate is named under the table, coded.
    assert.match(assets.stdout, /OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE/);
    assert.match(assets.stdout, /summary: AutomationCondition eager is not evaluated/);
    assert.match(assets.stdout, /summary: freshness policy \(fails when older than 1h\) is not evaluated/);
  });

  test("Dagster's automation sensor: listed UNSUPPORTED with the reason; sensors start refuses it, coded", async () => {
    const list = await cli(['sensors', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /dag\s+default_automation_condition_sensor\s+__ASSET_JOB\s+STOPPED \(UNSUPPORTED\)/);
    assert.match(
      list.stdout,
      /dag\/default_automation_condition_sensor: OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE: .*declarative automation/,
    );
    const start = await cli(['sensors', 'start', 'default_automation_condition_sensor', '--location', 'dag']);
    assert.notEqual(start.code, 0);
    assert.match(start.stderr, /OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE/);
  });

  test('runs launch --asset materializes assets through the asset job; an unknown key is refused', async () => {
    const launch = cli(['runs', 'launch', '--location', 'dag', '--asset', 'summary', '--json']);
    const plan = await answer('QUERY_CODE_LOCATION', { result: { answer: [] } });
    assert.deepEqual(plan.payload.assetSelection, ['summary']);
    const r = await launch;
    assert.equal(r.code, 0, r.stderr);
    const launched = JSON.parse(r.stdout) as { id: string; job: string };
    assert.equal(launched.job, '__ASSET_JOB');
    const shown = await cli(['runs', 'show', launched.id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^assets: summary$/m);
    const bad = await cli(['runs', 'launch', '--location', 'dag', '--asset', 'nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /OUTPOST_ERR_UNKNOWN_ASSET[\s\S]*"nope"/);
  });

  test('deploy flags: Dagster flags without --dagster, and two pointers, are refused with codes', async () => {
    const lonely = await cli(['locations', 'deploy', 'x', '--python', '/venv/bin/python', '--no-wait']);
    assert.equal(lonely.code, 2);
    assert.match(lonely.stderr, /OUTPOST_ERR_INVALID_ARGUMENT[\s\S]*--python need --dagster/);
    const two = await cli([
      'locations',
      'deploy',
      'x',
      '--dagster',
      '--python',
      'p',
      '--module',
      'm',
      '--package',
      'q',
      '--no-wait',
    ]);
    assert.equal(two.code, 2);
    assert.match(
      two.stderr,
      /OUTPOST_ERR_INVALID_ARGUMENT[\s\S]*exactly one of pythonFile, moduleName and packageName/,
    );
    const none = await s.user<{ codeLocation: unknown }>('{ codeLocation(name: "x") { name } }');
    assert.equal(none.codeLocation, null);
  });

  test('schedules test evaluates at --tick-time and prints the run requests; nothing launched', async () => {
    const runsBefore = await s.user<{ runs: { nodes: unknown[] } }>('{ runs { nodes { id } } }');
    const run = cli([
      'schedules',
      'test',
      'dag',
      'greeting_job_schedule',
      '--tick-time',
      '2026-01-01T00:00:00Z',
      '--json',
    ]);
    const item = await answer('EVALUATE_SCHEDULE', {
      result: { runRequests: [{ runKey: 'r1', job: 'greeting_job', runConfig: { ops: {} }, tags: { a: 'b' } }] },
    });
    assert.equal(item.payload.tickTimeMs, Date.parse('2026-01-01T00:00:00Z'));
    assert.equal(item.payload.dryRun, true);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      runRequests: [
        { runKey: 'r1', job: 'greeting_job', runConfig: { ops: {} }, tags: { a: 'b' }, partitionKey: null },
      ],
      skipReason: null,
      cursor: null,
      error: null,
    });
    const text = cli(['schedules', 'test', 'dag', 'greeting_job_schedule', '--tick-time', '1767225600000']);
    const second = await answer('EVALUATE_SCHEDULE', { result: { runRequests: [], skipReason: 'holiday' } });
    assert.equal(second.payload.tickTimeMs, 1767225600000);
    const t = await text;
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /no run requests: holiday\n\(nothing was launched\)/);
    const runs = await s.user<{ runs: { nodes: unknown[] } }>('{ runs { nodes { id } } }');
    assert.equal(runs.runs.nodes.length, runsBefore.runs.nodes.length, 'no run launched');
  });

  test('sensors test passes --cursor; a sensor that raised prints its error and exits 1', async () => {
    const ok = cli(['sensors', 'test', 'dag', 'cursor_sensor', '--cursor', '41']);
    const item = await answer('EVALUATE_SENSOR', {
      result: { runRequests: [{ job: 'greeting_job', runKey: 'k42' }], cursor: '42' },
    });
    assert.equal(item.payload.cursor, '41');
    const r = await ok;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /k42\s+greeting_job/);
    assert.match(r.stdout, /cursor: 42/);
    const bad = cli(['sensors', 'test', 'dag', 'cursor_sensor']);
    await answer('EVALUATE_SENSOR', { error: { code: 'OUTPOST_ERR_USER_CODE_ERROR', message: 'Exception: boom' } });
    const b = await bad;
    assert.equal(b.code, 1);
    assert.match(b.stdout, /error: OUTPOST_ERR_USER_CODE_ERROR: Exception: boom/);
    const unknown = await cli(['sensors', 'test', 'dag', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /OUTPOST_ERR_UNKNOWN_SENSOR/);
  });

  test('a location that fails after a good load: show says the definitions are the last that loaded', async () => {
    const deploy = async () => {
      const d = await cli(
        ['locations', 'deploy', 'stale', '--dagster', '--python', '/venv/bin/python'].concat([
          '--python-file',
          '/srv/code/defs.py',
          '--no-wait',
          '--json',
        ]),
      );
      assert.equal(d.code, 0, d.stderr);
      return (JSON.parse(d.stdout) as { version: number }).version;
    };
    await s.report('stale', await deploy(), { snapshot: DAGSTER_SNAPSHOT });
    const good = await cli(['locations', 'show', 'stale']);
    assert.doesNotMatch(good.stdout, /last definitions that loaded/);
    const v2 = await deploy();
    await s.report('stale', v2, { error: 'OUTPOST_ERR_USER_CODE_LOAD_FAILED: SyntaxError: invalid syntax' });
    const show = await cli(['locations', 'show', 'stale']);
    assert.match(show.stdout, /stale: ERROR \(Dagster 1\.13\.29, version \d+\); jobs: greeting_job/);
    assert.match(
      show.stdout,
      new RegExp(`the jobs and assets above are the last definitions that loaded: version ${v2} failed`),
    );
    assert.match(show.stdout, /load error:\nOUTPOST_ERR_USER_CODE_LOAD_FAILED: SyntaxError/);
  });
});
