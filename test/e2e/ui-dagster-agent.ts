// The agent's part for the Dagster UI test, played through the real agent API with what was
// recorded from a real Dagster 1.13 code server serving examples/dagster: its snapshot (mapped
// by the agent's own snapshot mapper), its execution plans (Dagster's verdict on run config) and
// its schedule and sensor evaluations. Not a test file: test/e2e/ui-dagster.test.ts uses it.
import { isDeepStrictEqual } from 'node:util';
import {
  readExecutionPlan,
  readListRepositories,
  readScheduleResult,
  readSensorResult,
} from '../../src/agent/dagster/serdes-readers.js';
import { mapDagsterSnapshot } from '../../src/agent/dagster/snapshot-mapper.js';
import type { LocationSnapshot } from '../../src/shared/location-snapshot.js';
import type { Vars } from '../support/graphql-call.js';
import type { ScriptedStack } from '../support/scripted-agent.js';
import { recorded, repositoryAndJobs } from '../unit/agent/dagster/dagster-fixtures.js';

export function recordedSnapshot(): LocationSnapshot {
  const list = readListRepositories(recorded('1.13', 'list-repositories').reply);
  if (!list.ok) throw new Error(list.error.message);
  return mapDagsterSnapshot({ dagsterVersion: list.value.dagsterVersion, ...repositoryAndJobs('1.13') });
}

/** A recorded schedule or sensor reply as the agent answers an EVALUATE_* item. */
function evaluation(
  reply: { runRequests: Array<{ runKey: string | null; jobName: string | null } & Vars>; skipMessage: string | null },
  ownJob: string,
) {
  return {
    runRequests: reply.runRequests.map((r) => ({
      ...(r.runKey ? { runKey: r.runKey } : {}),
      job: r.jobName ?? ownJob,
      runConfig: r.runConfig,
      tags: r.tags,
      ...(r.partitionKey ? { partitionKey: r.partitionKey } : {}),
    })),
    ...(reply.skipMessage ? { skipReason: reply.skipMessage } : {}),
  };
}

export interface Claimed {
  id: string;
  kind: string;
  runId: string | null;
  payload: Vars;
}

/** The execution-plan calls recorded from the real server: run config → Dagster's answer. */
export function recordedPlans() {
  return ['execution-plan.valid', 'execution-plan.invalid-config'].map((name) => {
    const r = recorded('1.13', name);
    const runConfig = (JSON.parse(r.request) as { run_config: Vars }).run_config;
    return { runConfig, plan: readExecutionPlan(r.reply) };
  });
}

/**
 * Plays the agent's work loop: answers the executionPlan config checks and EVALUATE_* items
 * from the recorded replies, and acks LAUNCH_RUN items and reports them launched (as the agent
 * does); every claimed item is kept for the test to inspect.
 */
export function playAgent(s: ScriptedStack) {
  const seen: Claimed[] = [];
  const errors: string[] = [];
  const waiters: Array<{ match: (c: Claimed) => boolean; resolve: (c: Claimed) => void }> = [];
  const schedule = readScheduleResult(recorded('1.13', 'schedule.daily_job_schedule').reply);
  // The sensor evaluations recorded from the cursor they were made with ("41" asks for a run, "abc" skips).
  const sensorByCursor = new Map(
    ['sensor.cursor-41', 'sensor.cursor-abc'].map((name) => {
      const r = recorded('1.13', name);
      const read = readSensorResult(r.reply);
      if (!read.ok) throw new Error(`${name} does not read`);
      return [(JSON.parse(r.request) as { cursor: string }).cursor, read.value] as const;
    }),
  );
  if (!schedule.ok) throw new Error('recorded evaluations do not read');
  const plans = recordedPlans();
  const complete = (id: string, r: unknown) =>
    s.agent('mutation($a: ID!, $id: ID!, $r: JSON!) { completeWork(agentId: $a, id: $id, result: $r) { id } }', {
      a: s.agentId,
      id,
      r,
    });
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { claimWork } = await s.agent<{ claimWork: Claimed[] }>(
        'mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 200) { id kind runId payload } }',
        { a: s.agentId },
      );
      for (const w of claimWork) {
        seen.push(w);
        // A mistake here must fail the test, not stall it: noted, asserted empty at the end.
        try {
          if (w.kind === 'QUERY_CODE_LOCATION' && w.payload.query === 'executionPlan') {
            const rec = plans.find((p) => isDeepStrictEqual(p.runConfig, w.payload.runConfig));
            if (rec?.plan.ok === false) {
              await s.agent(
                'mutation($a: ID!, $id: ID!, $e: WorkErrorInput!) { failWork(agentId: $a, id: $id, error: $e) { id } }',
                {
                  a: s.agentId,
                  id: w.id,
                  e: { code: 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION', message: rec.plan.error.message },
                },
              );
            } else if (rec?.plan.ok)
              // As the agent answers a plan of an op selection: it launches that subset.
              await complete(w.id, {
                answer: rec.plan.value,
                ...(Array.isArray(w.payload.opSelection) ? { launchesOpSelection: true } : {}),
              });
            // No recording plans an asset selection: its plan is one step per selected asset.
            else if (Array.isArray(w.payload.assetSelection))
              await complete(w.id, { answer: { stepKeys: w.payload.assetSelection } });
            else throw new Error(`no recorded execution plan for ${JSON.stringify(w.payload)}`);
          } else if (w.kind === 'EVALUATE_SCHEDULE') await complete(w.id, evaluation(schedule.value, 'daily_job'));
          else if (w.kind === 'EVALUATE_SENSOR') {
            const sensor = sensorByCursor.get(String(w.payload.cursor));
            if (!sensor) throw new Error(`no recorded evaluation from cursor ${String(w.payload.cursor)}`);
            await complete(w.id, { ...evaluation(sensor, 'greeting_job'), cursor: sensor.cursor });
          } else if (w.kind === 'LAUNCH_RUN' && w.runId) {
            await s.agent(
              'mutation($a: ID!, $id: ID!, $w: String!) { ackWork(agentId: $a, id: $id, workflowId: $w) { id } }',
              {
                a: s.agentId,
                id: w.id,
                w: `run-${w.runId}`,
              },
            );
            await s.agent(
              'mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 4242 }) }',
              {
                a: s.agentId,
                r: w.runId,
              },
            );
          }
        } catch (err) {
          errors.push(`${w.kind}: ${String(err)}`);
        }
        for (const x of waiters.splice(0)) {
          if (x.match(w)) x.resolve(w);
          else waiters.push(x);
        }
      }
    }
  })();
  return {
    seen,
    errors,
    /** The first claimed item matching, now or later. */
    item(match: (c: Claimed) => boolean): Promise<Claimed> {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

export type PlayedAgent = ReturnType<typeof playAgent>;
