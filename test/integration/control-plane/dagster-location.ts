// A Dagster location for control-plane tests: deployed through the user API, its snapshot
// (shaped as the agent's Dagster snapshot mapper reports it: assets, the implicit __ASSET_JOB,
// a converted config schema) reported LOADED through the agent API, and an agent that answers
// work items through the real agent API.
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import type { Harness } from '../../support/control-plane-harness.js';
import { workItemWorkflowId } from '../../../src/shared/workflow-contract.js';

export const DAGSTER_SNAPSHOT: LocationSnapshot = {
  kind: 'dagster',
  dagsterVersion: '1.13.29',
  repositoryName: '__repository__',
  jobs: [
    {
      name: 'greeting_job',
      description: '',
      tags: {},
      // As converted from Dagster's config types: ops.greet.config.name (a String field).
      configSchema: {
        type: 'object',
        properties: {
          ops: {
            type: 'object',
            properties: {
              greet: {
                type: 'object',
                properties: { config: { type: 'object', properties: { name: { type: 'string' } } } },
              },
            },
          },
        },
      },
      ops: [{ name: 'greet', description: '', inputs: [], outputs: ['result'], tags: {} }],
    },
    { name: '__ASSET_JOB', description: '', tags: {}, configSchema: {}, ops: [] },
    { name: 'customer_job', description: '', tags: {}, configSchema: {}, ops: [] },
  ],
  schedules: [
    {
      name: 'greeting_job_schedule',
      job: 'greeting_job',
      cron: '0 * * * *',
      timezone: 'UTC',
      defaultStatus: 'STOPPED',
      description: '',
    },
  ],
  sensors: [
    { name: 'cursor_sensor', job: 'greeting_job', minIntervalSeconds: 30, defaultStatus: 'STOPPED', description: '' },
    // Dagster's declarative automation sensor, as the mapper reports it: Outpost cannot tick it.
    {
      name: 'default_automation_condition_sensor',
      job: '__ASSET_JOB',
      minIntervalSeconds: 30,
      defaultStatus: 'STOPPED',
      description: '',
      unsupported:
        "sensor default_automation_condition_sensor is Dagster's declarative automation (AutomationCondition)",
    },
  ],
  partitions: [],
  assets: [
    {
      key: 'raw/customers',
      groupName: 'ingest',
      description: 'customers',
      deps: [],
      jobNames: ['__ASSET_JOB', 'customer_job'],
    },
    {
      key: 'summary',
      description: '',
      deps: ['raw/customers'],
      jobNames: ['__ASSET_JOB'],
      automationCondition: 'eager',
      freshnessPolicy: 'fails when older than 1h',
      checks: [
        { name: 'no_negatives', description: 'no negative totals', blocking: false },
        { name: 'fresh', description: '', blocking: true },
        { name: 'never_run', description: '', blocking: false },
      ],
    },
  ],
};

export interface Claimed {
  id: string;
  kind: string;
  runId: string | null;
  payload: Record<string, unknown>;
}

/** Registers an agent; deploys `name` as a Dagster location and reports it LOADED. */
export async function loadedDagsterLocation(
  h: Harness,
  name = 'dag',
  snapshot: LocationSnapshot = DAGSTER_SNAPSHOT,
): Promise<string> {
  const dep = await h.gql<{ deployCodeLocation: { version: number } }>(
    'user',
    `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
    { i: { name, dagster: { python: '/venv/bin/python', moduleName: 'defs', workingDirectory: '/srv/code' } } },
  );
  if (!dep.data) throw new Error(JSON.stringify(dep.errors));
  const reg = await h.gql<{ registerAgent: { agentId: string } }>(
    'agent',
    `mutation { registerAgent(input: { name: "a1", hostname: "h", version: "0", taskQueue: "q1" }) { agentId } }`,
  );
  const agentId = reg.data!.registerAgent.agentId;
  const [sync] = await claim(h, agentId, 0);
  if (sync?.kind !== 'SYNC_CODE_LOCATION') throw new Error(`expected a sync item, got ${JSON.stringify(sync)}`);
  await h.gql(
    'agent',
    `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }`,
    {
      a: agentId,
      i: sync.id,
      w: workItemWorkflowId(sync.id),
    },
  );
  const rep = await h.gql('agent', `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`, {
    i: {
      agentId,
      location: name,
      version: dep.data.deployCodeLocation.version,
      status: 'LOADED',
      snapshot,
    },
  });
  if (rep.errors) throw new Error(JSON.stringify(rep.errors));
  return agentId;
}

export async function claim(h: Harness, agentId: string, waitMs: number): Promise<Claimed[]> {
  const r = await h.gql<{ claimWork: Claimed[] }>(
    'agent',
    `mutation($a: ID!, $w: Int!) { claimWork(agentId: $a, limit: 10, waitMs: $w) { id kind runId payload } }`,
    { a: agentId, w: waitMs },
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.claimWork;
}

const backlogs = new WeakMap<Harness, Claimed[]>();

/** Claims the next item of `kind` (waiting up to ~5 s) and answers it: a result, or a coded failure. */
export async function answerNext(
  h: Harness,
  agentId: string,
  kind: string,
  answer: (item: Claimed) => { result: unknown } | { error: { code: string; message: string } },
  match: (item: Claimed) => boolean = () => true,
): Promise<Claimed> {
  // Items of other kinds (or a second one of this kind) claimed on the way wait for their turn.
  const backlog = backlogs.get(h) ?? [];
  backlogs.set(h, backlog);
  for (let i = 0; i < 25; i++) {
    const wanted = (w: Claimed): boolean => w.kind === kind && match(w);
    if (!backlog.some(wanted)) backlog.push(...(await claim(h, agentId, 200)));
    const at = backlog.findIndex(wanted);
    if (at < 0) continue;
    const item = backlog.splice(at, 1)[0]!;
    const a = answer(item);
    const r =
      'result' in a
        ? await h.gql(
            'agent',
            `mutation($a: ID!, $i: ID!, $r: JSON!) { completeWork(agentId: $a, id: $i, result: $r) { id } }`,
            {
              a: agentId,
              i: item.id,
              r: a.result,
            },
          )
        : await h.gql(
            'agent',
            `mutation($a: ID!, $i: ID!, $e: WorkErrorInput!) { failWork(agentId: $a, id: $i, error: $e) { id } }`,
            { a: agentId, i: item.id, e: a.error },
          );
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return item;
  }
  throw new Error(`no ${kind} item to answer`);
}

/** Rows of the tables a refused request must leave alone. */
export async function counts(h: Harness): Promise<{ runs: number; items: number; locations: number }> {
  const n = async (t: 'runs' | 'work_items' | 'code_locations'): Promise<number> =>
    Number(
      (
        await h.store.db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { runs: await n('runs'), items: await n('work_items'), locations: await n('code_locations') };
}
