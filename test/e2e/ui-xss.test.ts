// A hostile agent and user code fill every string the web UI shows with markup that would run if
// it were ever parsed as HTML: job, op, asset, group, schedule, sensor and partition names,
// descriptions, tags, config schema, asset checks (name, description, severity, metadata), a
// code location's load error, run config and tags, event messages, step keys, asset keys, event
// data and errors, stdout, the agent's name, hostname and heartbeat errors, a token's name in the
// audit log. A real browser visits each page with the CSP bypassed (so an injection runs instead
// of hiding behind a CSP refusal) and checks that no probe ran (no dialog, no injected element or
// inline script), that each hostile string is on the page as text, and that each page was served
// with the strict CSP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocationSnapshotSchema } from '../../src/shared/location-snapshot.js';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../support/browser.js';
import { signIn } from '../support/seeded-control-plane.js';
import { startScriptedStack, type ScriptedStack } from '../support/scripted-agent.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

/**
 * A hostile string named `tag`: an attribute break-out, markup with handlers, an inline script
 * (under 128 characters in all: token names are held to that).
 */
const P = (tag: string) =>
  `"'><img src=x class=xss-probe onerror=alert(1)><svg onload=alert(2)></svg><script>alert(3)</script>XSS-${tag}`;

const snapshot = LocationSnapshotSchema.parse({
  jobs: [
    {
      name: P('job'),
      description: P('job-description'),
      tags: { [P('job-tag-key')]: P('job-tag-value') },
      configSchema: {
        type: 'object',
        properties: { [P('config-field')]: { type: 'string', description: P('config-description') } },
      },
      ops: [
        { name: P('op'), description: P('op-description'), outputs: ['result'] },
        { name: 'downstream', inputs: [{ name: 'x', fromOp: P('op'), fromOutput: 'result' }] },
      ],
    },
    { name: P('partitioned-job'), partitions: P('partitions'), ops: [{ name: 'only' }] },
  ],
  schedules: [{ name: P('schedule'), job: P('job'), cron: '0 * * * *', description: P('schedule-description') }],
  sensors: [{ name: P('sensor'), job: P('job'), description: P('sensor-description') }],
  partitions: [{ name: P('partitions'), kind: 'static', keys: [P('partition-key'), 'plain'] }],
  assets: [
    {
      key: P('asset'),
      groupName: P('group'),
      description: P('asset-description'),
      deps: [P('dep')],
      jobNames: [P('job')],
      checks: [{ name: P('check'), description: P('check-description'), blocking: true }],
    },
  ],
});

describe('hostile strings in every page of the web UI, in a real browser', { skip, timeout: 300_000 }, () => {
  let s: ScriptedStack;
  let b: TestBrowser;
  let runId = '';
  let partitionedRun = '';
  const dialogs: string[] = [];
  /** Each document response's CSP, by path. */
  const policies = new Map<string, string>();

  before(async () => {
    s = await startScriptedStack({}, { name: P('agent-name'), hostname: P('agent-host') });
    const v = await s.deploy('hello');
    await s.report('hello', v, { snapshot });
    const broken = await s.deploy('broken');
    await s.report('broken', broken, { error: P('load-error') });
    await s.agent('mutation($i: HeartbeatInput!) { heartbeat(input: $i) }', {
      i: {
        agentId: s.agentId,
        codeServers: [{ location: 'hello', status: 'LOADED' }],
        runningRunIds: [],
        errors: [P('heartbeat-error')],
      },
    });
    // A user token with a hostile name acts, so the audit log shows it.
    await s.user('mutation($n: String!) { createToken(kind: USER, name: $n, role: VIEWER) { id } }', {
      n: P('token-name'),
    });

    const launched = await s.user<{ launchRun: { id: string } }>(
      'mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }',
      {
        i: {
          location: 'hello',
          job: P('job'),
          runConfig: { [P('config-field')]: P('config-value') },
          tags: { [P('run-tag-key')]: P('run-tag-value') },
        },
      },
    );
    runId = launched.launchRun.id;
    await s.claimLaunch(runId);
    await s.events(runId, [
      { type: 'RUN_START', message: P('run-start') },
      { type: 'STEP_START', stepKey: P('step'), message: P('step-start') },
      { type: 'LOG', stepKey: P('step'), level: 'info', message: P('log-message') },
      {
        type: 'ASSET_MATERIALIZATION',
        stepKey: P('step'),
        assetKey: P('asset'),
        message: P('materialization'),
        data: { metadata: { [P('metadata-key')]: P('metadata-value'), url: 'javascript:alert(1)' } },
      },
      {
        // An asset check evaluation, as the run worker's shim ships it (failed at a hostile severity).
        type: 'ENGINE',
        stepKey: P('step'),
        assetKey: P('asset'),
        message: P('check-evaluation'),
        data: {
          dagsterEventType: 'ASSET_CHECK_EVALUATION',
          assetCheck: { name: P('check'), assetKey: P('asset'), passed: false, severity: P('check-severity') },
          metadata: { [P('check-metadata-key')]: P('check-metadata-value') },
        },
      },
      {
        type: 'STEP_FAILURE',
        stepKey: P('step'),
        message: P('step-failure'),
        error: { name: P('error-name'), message: P('error-message'), stack: P('error-stack') },
      },
      { type: 'RUN_FAILURE', message: P('run-failure') },
    ]);
    await s.log(runId, `${P('stdout')}\n`);

    const stop = s.answerQueries(() => ({ runConfig: {}, tags: { [P('partition-tag')]: P('partition-tag-value') } }));
    try {
      partitionedRun = await s.launch(P('partitioned-job'), {}, P('partition-key'));
    } finally {
      await stop();
    }

    b = await launchBrowser({ bypassCSP: true });
    b.page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    b.page.on('response', (r) => {
      if (r.request().resourceType() === 'document') {
        policies.set(new URL(r.url()).pathname, r.headers()['content-security-policy'] ?? '');
      }
    });
    await signIn(s, b);
  });
  after(async () => {
    await b?.close();
    await s?.close();
  });

  /** Visits `path`, waits until `tags` are on the page as text, and checks that no probe ran. */
  async function visit(path: string, tags: string[], act?: () => Promise<void>): Promise<void> {
    const { page } = b;
    await page.goto(`${s.url}${path}`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => !document.querySelector('main')?.textContent?.includes('Loading…'));
    await act?.();
    const missing: string[] = [];
    for (const tag of tags) {
      try {
        await page.waitForFunction((m) => document.body.textContent?.includes(m), `XSS-${tag}`, { timeout: 5_000 });
      } catch {
        missing.push(tag);
      }
    }
    const text = (await page.evaluate(() => document.body.textContent)) ?? '';
    assert.deepEqual(missing, [], `${path}: shown as text`);
    assert.ok(text.includes(`<img src=x class=xss-probe`), `${path}: the markup itself is shown, as text`);
    const ran = await page.evaluate(() => ({
      probes: document.querySelectorAll('.xss-probe, svg[onload], img[onerror]').length,
      inline: [...document.scripts].filter((el) => !el.src).length,
    }));
    assert.deepEqual(ran, { probes: 0, inline: 0 }, `${path}: nothing injected ran`);
    assert.deepEqual(dialogs, [], `${path}: no dialog`);
  }

  test('runs list', async () => {
    await visit('/runs', ['job']);
  });

  test('run page: events, step keys, asset keys, data, errors, config, tags, and its stdout', async () => {
    await visit(`/runs/${runId}`, [
      'job',
      'run-start',
      'step',
      'log-message',
      'asset',
      'materialization',
      'metadata-key',
      'metadata-value',
      'step-failure',
      'error-name',
      'error-message',
      'error-stack',
      'run-failure',
      'run-tag-key',
      'run-tag-value',
      'config-value',
    ]);
    await visit(`/runs/${runId}`, ['stdout'], async () => {
      await b.page.getByRole('tab', { name: 'stdout' }).click();
    });
  });

  test('a partitioned run: its key and the tags its partition brought', async () => {
    await visit(`/runs/${partitionedRun}`, [
      'partitioned-job',
      'partition-key',
      'partition-tag',
      'partition-tag-value',
    ]);
  });

  test('code locations: jobs and a load error', async () => {
    await visit('/locations', ['job', 'load-error']);
    await visit('/locations/hello', ['job', 'partitioned-job', 'schedule', 'sensor']);
  });

  test('job page: description, tags, ops, config schema; the partition picker', async () => {
    await visit(`/locations/hello/jobs/${encodeURIComponent(P('job'))}`, [
      'job',
      'job-description',
      'job-tag-key',
      'job-tag-value',
      'op',
      'config-field',
      'config-description',
    ]);
    await visit(`/locations/hello/jobs/${encodeURIComponent(P('partitioned-job'))}`, [
      'partitioned-job',
      'partition-key',
    ]);
  });

  test('assets, schedules and sensors, agents, audit log', async () => {
    await visit('/locations/hello/assets', ['asset', 'group', 'asset-description', 'dep', 'check', 'check-severity']);
    // A check's description and metadata are in its chip's title (an attribute, shown as text).
    const titles = await b.page.evaluate(() =>
      [...document.querySelectorAll('.asset-check')].map((el) => el.getAttribute('title') ?? '').join('\n'),
    );
    for (const tag of ['check-description', 'check-metadata-key', 'check-metadata-value']) {
      assert.ok(titles.includes(P(tag)), `asset check title: ${tag}`);
    }
    await visit('/automation', ['schedule', 'sensor', 'job']);
    await visit('/agents', ['agent-name', 'agent-host']);
    await visit('/audit', ['token-name']);
  });

  test('every page was served with the strict CSP', () => {
    assert.ok(policies.size >= 8, [...policies.keys()].join(' '));
    for (const [path, csp] of policies) {
      const script = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
      assert.equal(script.trim(), "'self'", `${path}: script-src ${script}`);
      assert.match(csp, /object-src 'none'/, path);
      assert.match(csp, /base-uri 'none'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
    }
  });
});
