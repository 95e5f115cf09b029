// The run-config check of launchRun (TypeScript locations) on the control plane's own thread:
// the first launch of a job generates and compiles no code (it used to compile the schema with
// ajv, stalling every other request), ajv is not even loaded by start or by such a launch, and
// a bad config or an unchecked schema keyword is still refused with its code, field and hint.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { z } from 'zod/v4';
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';

const loadedModules = createRequire(import.meta.url).cache;
const ajvLoaded = () => Object.keys(loadedModules).some((k) => /[/\\]node_modules[/\\]ajv[/\\]/.test(k));

const published = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input' }) as Record<string, unknown>;
const job = (name: string, configSchema: Record<string, unknown>) => ({
  name,
  description: '',
  tags: {},
  configSchema,
  ops: [],
});
const SNAPSHOT: LocationSnapshot = {
  jobs: [
    job(
      'etl',
      published(
        z.object({
          seconds: z.number().default(5),
          when: z.iso.datetime().optional(),
          items: z.array(z.object({ kind: z.enum(['x', 'y']), size: z.int().min(0) })).default([]),
        }),
      ),
    ),
    job('typo', { type: 'object', properties: { n: { type: 'number', minimun: 3 } } }),
    // $dynamicRef is standard but rare: checked by ajv, loaded for it alone.
    job('dynamic', {
      $dynamicAnchor: 'node',
      type: 'object',
      properties: { n: { type: 'integer' }, child: { $dynamicRef: '#node' } },
    }),
  ],
  schedules: [],
  sensors: [],
  partitions: [],
};

let h: Harness;
before(async () => {
  h = await openHarness(`sqlite:${join(mkdtempSync(join(tmpdir(), 'outpost-cfg-')), 'outpost.db')}`);
  const dep = await h.gql<{ deployCodeLocation: { version: number } }>(
    'user',
    `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
    { i: { name: 'loc', module: 'examples/hello/definitions.ts' } },
  );
  const reg = await h.gql<{ registerAgent: { agentId: string } }>(
    'agent',
    `mutation { registerAgent(input: { name: "a1", hostname: "h", version: "0", taskQueue: "q1" }) { agentId } }`,
  );
  const agentId = reg.data!.registerAgent.agentId;
  await h.gql('agent', `mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 0) { id } }`, { a: agentId });
  const rep = await h.gql('agent', `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`, {
    i: {
      agentId,
      location: 'loc',
      version: dep.data!.deployCodeLocation.version,
      status: 'LOADED',
      snapshot: SNAPSHOT,
    },
  });
  assert.equal(rep.errors, undefined, JSON.stringify(rep.errors));
});
after(() => h.close());

const launch = (jobName: string, runConfig: Record<string, unknown>) =>
  h.gql<{ launchRun: { id: string } }>('user', `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`, {
    i: { location: 'loc', job: jobName, runConfig },
  });
const runCount = async () => (await h.store.db.selectFrom('runs').select('id').execute()).length;

/** Counts code the call generates with the Function constructor (how ajv compiles a schema). */
async function codeGenerated<T>(fn: () => Promise<T>): Promise<{ result: T; generated: number }> {
  const original = globalThis.Function;
  let generated = 0;
  globalThis.Function = new Proxy(original, {
    construct(target, args: unknown[]) {
      generated++;
      return Reflect.construct(target, args) as object;
    },
    apply(target, self, args: unknown[]) {
      generated++;
      return Reflect.apply(target, self, args) as unknown;
    },
  });
  try {
    return { result: await fn(), generated };
  } finally {
    globalThis.Function = original;
  }
}

test('the first launch of a job compiles no code and does not load ajv; a bad config names its fields', async () => {
  assert.equal(ajvLoaded(), false, 'the control plane started without ajv');
  const first = await codeGenerated(() => launch('etl', { seconds: 1, items: [{ kind: 'x', size: 2 }] }));
  assert.equal(first.result.errors, undefined, JSON.stringify(first.result.errors));
  assert.equal(first.generated, 0, 'no code generated on the request path');
  assert.equal(ajvLoaded(), false, 'ajv was not loaded by the launch');

  const before = await runCount();
  const bad = await launch('etl', { seconds: 'ten', secnods: 1, when: 'yesterday', items: [{ kind: 'z', size: -1 }] });
  const err = bad.errors?.[0];
  assert.equal(err?.extensions?.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION');
  assert.ok(err?.extensions?.hint, 'a hint says what to do');
  for (const part of [
    '/seconds must be number',
    '/secnods is not a known field',
    '/when must match format "date-time"',
    '/items/0/kind must be one of "x", "y"',
    '/items/0/size must be >= 0',
  ])
    assert.ok(err.message.includes(part), `${part} in ${err.message}`);
  assert.equal(await runCount(), before, 'nothing written');
});

test('a schema keyword no draft defines refuses the launch instead of passing unchecked', async () => {
  const before = await runCount();
  const r = await launch('typo', { n: 1 });
  assert.equal(r.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_CONFIG_SCHEMA_UNSUPPORTED');
  assert.match(r.errors[0].message, /\/properties\/n\/minimun/);
  assert.equal(await runCount(), before);
});

test('a standard keyword the interpreter leaves to ajv is still checked (ajv loaded for it)', async () => {
  const ok = await launch('dynamic', { n: 1, child: { n: 2 } });
  assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
  const bad = await launch('dynamic', { n: 1, child: { n: 'two' } });
  assert.equal(bad.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION');
  assert.match(bad.errors[0].message, /\/child\/n must be integer/);
  assert.equal(ajvLoaded(), true);
});
