// Run requests CPU: the control plane's CPU per run, request by request, in process (no sockets, no other process): a
// `noop` run's requests as the agent and a user send them — launchRun, claimWork (with the
// previous item's ack), runCursor, reportRunLaunchedWithEvents (RUN_START), the worker's other
// events on POST /agent/events, completeWork — through the control plane's fetch handler on
// SQLite, process.cpuUsage() around each. Load-independent: what each request costs the
// control plane itself, without the HTTP server's socket work or any client.
// Then the same requests through the real HTTP server (node:http, kept-alive sockets), sent by
// a client process of its own (bench/support/run-requests-client.mjs): this process's CPU while
// the client runs, i.e. what a run's requests cost the control plane with its HTTP layer. No
// floor: the in-process figure is the HTTP figure's floor (ratio reported).
// Also the SQLite statements the in-process requests ran per run (--statements lists them).
//   NODE_ENV=production npx tsx bench/run-requests-cpu.ts [--quick] [--runs N] [--statements]
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_DOCUMENTS } from '../src/agent/control-plane-documents.js';
import { createNodeServer } from '../src/control-plane/http/node-server.js';
import { DEFAULT_API_LIMITS } from '../src/control-plane/limits.js';
import { createLogger } from '../src/shared/logger.js';
import { isQuick, report, runMain } from './support/report.js';
import { countStatements, statementCounts } from './support/sqlite-statements.js';
import { clientCpu } from './support/window-cpu.js';
import { runWorkflowId } from '../src/shared/workflow-contract.js';
import { loadedLocation, openHarness, postAgentRaw } from '../test/support/control-plane-harness.js';

const quick = isQuick();
const i = process.argv.indexOf('--runs');
const RUNS = i >= 0 ? Number(process.argv[i + 1]) : quick ? 200 : 1000;
const WARMUP = 50;
const CLIENT = join(import.meta.dirname, 'support', 'run-requests-client.mjs');

const ev = (seq: number, type: string, extra = ''): string =>
  `{"seq":${seq},"timestamp":${Date.now()},"type":"${type}"${extra},"message":"m"}`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-cprun-ops-'));
  const h = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`, { realClock: true });
  const cpu = new Map<string, number>();
  async function timed<T>(name: string, count: boolean, f: () => Promise<T>): Promise<T> {
    const c0 = process.cpuUsage();
    const r = await f();
    const c = process.cpuUsage(c0);
    if (count) cpu.set(name, (cpu.get(name) ?? 0) + (c.user + c.system) / 1000);
    return r;
  }
  const ok = <T>(r: { status: number; data?: T; errors?: unknown }): T => {
    if (r.status !== 200 || !r.data) throw new Error(JSON.stringify(r));
    return r.data;
  };
  try {
    const agentId = await loadedLocation(h);
    let ack: { id: string; workflowId: string } | undefined;
    for (let n = 0; n < WARMUP + RUNS; n++) {
      const count = n >= WARMUP;
      if (n === WARMUP) countStatements();
      const runId = ok(
        await timed('launchRun (user)', count, () =>
          h.gql<{ launchRun: { id: string } }>(
            'user',
            `mutation($input: LaunchRunInput!) { launchRun(input: $input) { id } }`,
            { input: { location: 'hello', job: 'hello' } },
          ),
        ),
      ).launchRun.id;
      const claimed = ok(
        await timed('claimWork (+ ack)', count, () =>
          h.gql<{ claimWork: { id: string }[] }>('agent', AGENT_DOCUMENTS.ClaimWork, {
            agentId,
            limit: 10,
            waitMs: 0,
            ...(ack ? { acks: [ack] } : {}),
          }),
        ),
      ).claimWork;
      const item = claimed[0]!;
      ack = { id: item.id, workflowId: runWorkflowId(runId) };
      ok(await timed('runCursor', count, () => h.gql('agent', AGENT_DOCUMENTS.RunCursor, { agentId, runId })));
      ok(
        await timed('reportRunLaunchedWithEvents', count, () =>
          h.gql('agent', AGENT_DOCUMENTS.ReportRunLaunchedWithEvents, {
            agentId,
            runId,
            info: { launcher: 'process', ref: '1234' },
            lines: ev(1, 'RUN_START', ',"data":{"pid":1234,"warm":true}'),
          }),
        ),
      );
      const body = [
        ev(2, 'STEP_START', ',"stepKey":"hello"'),
        ev(3, 'STEP_SUCCESS', ',"stepKey":"hello"'),
        ev(4, 'RUN_SUCCESS'),
      ].join('\n');
      const r = await timed('POST /agent/events', count, () =>
        postAgentRaw(h, '/agent/events', 'application/x-ndjson', { agentId, runId }, body),
      );
      if (r.status !== 200) throw new Error(JSON.stringify(r));
      ok(
        await timed('completeWork', count, () =>
          h.gql('agent', AGENT_DOCUMENTS.CompleteWork, { agentId, id: item.id, result: { status: 'SUCCESS' } }),
        ),
      );
    }
    const total = [...cpu.values()].reduce((a, b) => a + b, 0) / RUNS;
    const statements = statementCounts();
    const sqlCalls = statements.reduce((a, [, x]) => a + x.calls, 0) / RUNS;
    const sqlMs = statements.reduce((a, [, x]) => a + x.ms, 0) / RUNS;
    if (process.argv.includes('--statements')) {
      for (const [k, x] of [...statements].sort((a, b) => b[1].ms - a[1].ms)) {
        console.log(`${(x.calls / RUNS).toFixed(2)} ${((1000 * x.ms) / x.calls).toFixed(1)} us  ${k.slice(0, 150)}`);
      }
    }
    const server = createNodeServer({
      handler: h.handler,
      maxBodyBytes: DEFAULT_API_LIMITS.maxBodyBytes,
      logger: createLogger({ name: 'bench', level: 'silent' }),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const viaHttp = async (runs: number): Promise<number> => {
      const args = [url, h.userToken, h.agentToken, agentId, String(runs), JSON.stringify(AGENT_DOCUMENTS)];
      return clientCpu(CLIENT, args);
    };
    await viaHttp(WARMUP);
    const httpMs = (await viaHttp(RUNS)) / RUNS;
    server.close();
    report('run-requests-cpu', { quick, runs: RUNS, warmup: WARMUP, database: 'sqlite' }, [
      ...[...cpu].map(([k, v]) => ({ name: `in process: ${k}`, value: v / RUNS, unit: 'ms' })),
      { name: 'in process: per run, all requests', value: total, unit: 'ms' },
      { name: 'in process: SQLite statements per run', value: sqlCalls, unit: 'count' },
      {
        name: 'in process: SQLite statements per run, time',
        value: sqlMs,
        unit: 'ms',
        note: 'wall time around each synchronous call (bench/support/sqlite-statements.ts)',
      },
      { name: 'through the HTTP server: per run', value: httpMs, unit: 'ms', note: 'client in its own process' },
      { name: 'in process / through the HTTP server', value: total / httpMs, unit: 'ratio' },
    ]);
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
