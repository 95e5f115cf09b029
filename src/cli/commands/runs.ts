// `outpost runs launch|list|show|logs|terminate`.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { OutpostError, errorCode } from '../../shared/errors.js';
import { isTerminalRunStatus } from '../../shared/run-status.js';
import { RemoteError, type ClientOptions, type UserApi, userApi, withClientOptions } from '../client.js';
import { formatDuration, printTable, runAction } from '../output.js';

interface RunRow {
  id: string;
  status: string;
  job: string;
  location: string;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Computed once by the API from the run's events (run-timing.ts); the UI shows the same. */
  durationMs: number | null;
  launchError: { code: string; message: string } | null;
  /** Run tags: a sensor's or schedule's run carries its run key here (dagster/run_key, outpost/run_key). */
  tags: Record<string, string>;
  /** `runs show` only: the assets it materializes, the ops it runs (null: the whole job). */
  assetSelection?: string[] | null;
  opSelection?: string[] | null;
}
export interface EventRow {
  seq: number;
  type: string;
  timestamp: number;
  stepKey: string | null;
  level: string | null;
  message: string | null;
  error: { message?: string; stack?: string } | null;
  /** ASSET_MATERIALIZATION / ASSET_OBSERVATION: the asset key. */
  assetKey?: string | null;
  /** The event's payload; its `metadata` (by label) and `assetCheck` are printed under the line. */
  data?: Record<string, unknown> | null;
}
interface LogChunk {
  data: string;
  nextOffset: number;
}

const RUN_FIELDS = 'id status job location tags createdAt startedAt endedAt durationMs launchError { code message }';
/** Events per request of `runs show`; it pages until it has them all. */
const EVENT_PAGE = 1000;
const EVENT_FIELDS = 'seq type timestamp stepKey assetKey level message error data';

type LaunchOptions = ClientOptions & {
  location: string;
  config?: string;
  configFile?: string;
  tag: string[];
  partition?: string;
  asset: string[];
  op: string[];
  follow?: boolean;
};

export function registerRunsCommand(program: Command): void {
  const runs = program.command('runs').description('Launch, watch and stop runs');

  withClientOptions(
    runs
      .command('launch [job]')
      .description('Launch a run of a job (or, with --asset, materialize assets; the job is then optional)')
      .option('--location <name>', 'code location of the job', 'hello')
      .option('--config <json>', 'run config as JSON')
      .option('--config-file <path>', 'run config from a JSON file')
      .option('--tag <key=value>', 'a run tag (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--partition <key>', "partition key (required for a partitioned job; one of its set's keys)")
      .option(
        '--asset <key>',
        'an asset key to materialize, path parts joined with / (repeatable; without a job: the asset job)',
        (v: string, acc: string[]) => [...acc, v],
        [] as string[],
      )
      .option(
        '--op <name>',
        "an op of the job to run, the others not (repeatable; a Dagster job's op names)",
        (v: string, acc: string[]) => [...acc, v],
        [] as string[],
      )
      .option(
        '--follow',
        'stream events and logs until the run ends; exit 1 unless it succeeds (with --json: NDJSON, one object a line)',
      ),
  ).action((job: string | undefined, opts: LaunchOptions) =>
    runAction(opts, async () => {
      const api = userApi(opts);
      const runConfig = parseConfig(opts);
      const tags = Object.fromEntries(
        opts.tag.map((t) => {
          const i = t.indexOf('=');
          if (i < 1) throw new OutpostError('INVALID_ARGUMENT', { detail: `--tag ${t}: expected key=value` });
          return [t.slice(0, i), t.slice(i + 1)];
        }),
      );
      const res = await api.request<{ launchRun: RunRow }>(
        `mutation($input: LaunchRunInput!) { launchRun(input: $input) { ${RUN_FIELDS} } }`,
        {
          input: {
            location: opts.location,
            job,
            runConfig,
            tags,
            partitionKey: opts.partition,
            ...(opts.asset.length ? { assetSelection: opts.asset } : {}),
            ...(opts.op.length ? { opSelection: opts.op } : {}),
          },
        },
      );
      const run = res.launchRun;
      if (!opts.follow) {
        const hint = await waitingHint(api, run);
        return { data: run, text: () => `launched run ${run.id} (${run.job}, ${run.status})${hint}` };
      }
      // --follow --json is NDJSON: {"launched":run}, then {"event":…} and {"log":…} lines, then {"run":final}.
      console.log(opts.json ? JSON.stringify({ launched: run }) : `launched run ${run.id} (${run.job})`);
      const final = await follow(api, run.id, { json: Boolean(opts.json), logs: true });
      return {
        data: { run: final },
        ndjson: true,
        text: () => `run ${final.id} ${final.status}${describeLaunchError(final)}`,
        exitCode: final.status === 'SUCCESS' ? 0 : 1,
      };
    }),
  );

  withClientOptions(
    runs
      .command('list')
      .description('List recent runs, newest first')
      .option('--status <status>', 'only runs in this status')
      .option('--job <job>', 'only runs of this job')
      .option('--location <name>', 'only runs of this location')
      .option('--limit <n>', 'how many', '20'),
  ).action((opts: ClientOptions & { status?: string; job?: string; location?: string; limit: string }) =>
    runAction(opts, async () => {
      const api = userApi(opts);
      const filter = { status: opts.status, job: opts.job, location: opts.location };
      const res = await api.request<{ runs: { nodes: RunRow[] } }>(
        `query($filter: RunsFilter, $first: Int) { runs(filter: $filter, first: $first) { nodes { ${RUN_FIELDS} } } }`,
        { filter, first: Number(opts.limit) },
      );
      const rows = res.runs.nodes;
      return {
        data: rows,
        text: () =>
          printTable(
            ['ID', 'STATUS', 'JOB', 'LOCATION', 'CREATED', 'DURATION'],
            rows.map((r) => [
              r.id,
              r.status,
              r.job,
              r.location,
              new Date(r.createdAt).toISOString(),
              formatDuration(r.durationMs),
            ]),
          ),
      };
    }),
  );

  withClientOptions(runs.command('show <id>').description('Show a run and all its events')).action(
    (id: string, opts: ClientOptions) =>
      runAction(opts, async () => {
        const api = userApi(opts);
        const run = await showRun(api, id);
        const hint = await waitingHint(api, run);
        return {
          data: run,
          text: () =>
            [
              `run ${run.id}: ${run.status} (${run.job} @ ${run.location}) ${formatDuration(run.durationMs)}${describeLaunchError(run)}${hint}`,
              ...formatTags(run.tags),
              ...(run.assetSelection?.length ? [`assets: ${run.assetSelection.join(', ')}`] : []),
              ...(run.opSelection?.length ? [`ops: ${run.opSelection.join(', ')}`] : []),
              ...run.events.map(formatEvent),
            ].join('\n'),
        };
      }),
  );

  withClientOptions(
    runs
      .command('logs <id>')
      .description("Print a run's stdout or stderr")
      .option('--stream <stream>', 'stdout or stderr', 'stdout')
      .option('--follow', 'keep printing until the run ends'),
  ).action((id: string, opts: ClientOptions & { stream: string; follow?: boolean }) =>
    runAction(opts, async () => {
      const api = userApi(opts);
      if (opts.follow) {
        const final = await follow(api, id, {
          json: Boolean(opts.json),
          logs: true,
          events: false,
          streams: [opts.stream],
        });
        return { data: { run: final }, ndjson: true, text: () => '' };
      }
      // Under --json the whole text is one JSON document, so it is gathered first.
      let offset = 0;
      const parts: string[] = [];
      for (let i = 0; i < 100_000; i++) {
        const chunk = await fetchLogs(api, id, opts.stream, offset);
        if (!chunk.data) break;
        if (opts.json) parts.push(chunk.data);
        else process.stdout.write(chunk.data);
        offset = chunk.nextOffset;
      }
      if (!opts.json) return undefined;
      return { data: { runId: id, stream: opts.stream, data: parts.join(''), nextOffset: offset }, text: () => '' };
    }),
  );

  withClientOptions(
    runs.command('terminate <id>').description('Stop a run (SIGTERM, then SIGKILL after a grace period)'),
  ).action((id: string, opts: ClientOptions) =>
    runAction(opts, async () => {
      const api = userApi(opts);
      const res = await api.request<{ terminateRun: RunRow }>(
        `mutation($id: ID!) { terminateRun(id: $id) { ${RUN_FIELDS} } }`,
        { id },
      );
      return { data: res.terminateRun, text: () => `run ${id}: ${res.terminateRun.status}` };
    }),
  );
}

function parseConfig(opts: LaunchOptions): Record<string, unknown> {
  const text = opts.configFile ? readFileSync(opts.configFile, 'utf8') : opts.config;
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `run config must be a JSON object (${(e as Error).message})`,
    });
  }
}

const describeLaunchError = (r: RunRow): string =>
  r.launchError ? `\ndid not start: ${r.launchError.code}: ${r.launchError.message}` : '';

const NO_AGENT_HINT =
  'waiting for an agent: no agent is healthy, so this run cannot launch until one is back (`outpost dev` runs one; see the Agents page)';

/** For a QUEUED run, the same truth the UI shows: whether any agent is there to launch it. */
async function waitingHint(api: UserApi, r: RunRow): Promise<string> {
  if (r.status !== 'QUEUED') return '';
  const res = await api.request<{ agents: { healthy: boolean }[] }>('{ agents { healthy } }');
  return res.agents.some((a) => a.healthy) ? '' : `\n${NO_AGENT_HINT}`;
}

/** The run with every event: pages by seq until a short page, so no limit cuts it off silently. */
async function showRun(api: UserApi, id: string): Promise<RunRow & { events: EventRow[] }> {
  const events: EventRow[] = [];
  let afterSeq = 0;
  // Bounded: 100k pages of 1,000 events is far more than a run stores.
  for (let page = 0; page < 100_000; page++) {
    const res = await api.request<{ run: (RunRow & { events: EventRow[] }) | null }>(
      `query($id: ID!, $after: Int, $first: Int) { run(id: $id) { ${RUN_FIELDS} events(afterSeq: $after, first: $first) { ${EVENT_FIELDS} } } }`,
      { id, after: afterSeq, first: EVENT_PAGE },
    );
    if (!res.run) throw new OutpostError('UNKNOWN_RUN', { detail: id });
    events.push(...res.run.events);
    const last = res.run.events.at(-1);
    if (res.run.events.length < EVENT_PAGE || !last || last.seq <= afterSeq)
      return { ...res.run, ...(await selectionOf(api, id)), events };
    afterSeq = last.seq;
  }
  throw new OutpostError('INTERNAL', { detail: `run ${id} has more events than runs show pages through` });
}

/** The run's asset and op selections, asked once; none from a control plane from before them. */
async function selectionOf(api: UserApi, id: string): Promise<Pick<RunRow, 'assetSelection' | 'opSelection'>> {
  try {
    const res = await api.request<{ run: Pick<RunRow, 'assetSelection' | 'opSelection'> | null }>(
      'query($id: ID!) { run(id: $id) { assetSelection opSelection } }',
      { id },
    );
    return res.run ?? {};
  } catch (err) {
    // The server's schema has no such fields: its GraphQL validation refused the query.
    if (err instanceof RemoteError && err.code === errorCode('BAD_REQUEST')) return {};
    throw err;
  }
}

/** One `tags:` line (sorted key=value), none when the run has no tags. */
function formatTags(tags: Record<string, string> | null | undefined): string[] {
  const entries = Object.entries(tags ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? [`tags: ${entries.map(([k, v]) => `${k}=${v}`).join(' ')}`] : [];
}

/**
 * One event as a line: its message, then its error's message unless the line already says it
 * (a worker's own failure repeats it as both) or the stack starts with it (a JavaScript stack),
 * then, for a step failure, the stack (a Dagster one is frames only, its cause chain included).
 */
export function formatEvent(e: EventRow): string {
  const time = new Date(e.timestamp).toISOString().slice(11, 23);
  const step = e.stepKey ? ` [${e.stepKey}]` : '';
  const msg = e.message ? ` ${e.message}` : '';
  const stack = e.error?.stack && e.type === 'STEP_FAILURE' ? e.error.stack : undefined;
  // A Dagster error's message carries its cause chain after its first paragraph, as its stack
  // does (event_mapping.py): with the stack shown, the chain is said there.
  const full = e.error?.message;
  const cut = full?.indexOf('\n\n') ?? -1;
  const errMessage = stack && full && cut > 0 && stack.includes(full.slice(cut + 2)) ? full.slice(0, cut) : full;
  const said = !errMessage || e.message === errMessage || stack?.includes(errMessage);
  const err = `${said ? '' : ` ${errMessage}`}${stack ? `\n${stack}` : ''}`;
  const asset = e.assetKey && !e.message?.includes(e.assetKey) ? ` (asset ${e.assetKey})` : '';
  return `${time} ${String(e.seq).padStart(5)} ${e.type}${step}${asset}${msg}${err}${detailLines(e.data)}`;
}

/** A metadata value on one line is cut here; `runs show --json` has it whole. */
const METADATA_VALUE_CHARS = 200;

/** An asset check's verdict and the user's metadata (Dagster's, by label), one indented line each. */
function detailLines(data: EventRow['data']): string {
  if (!data || typeof data !== 'object') return '';
  const lines: string[] = [];
  const check = data.assetCheck as
    { name?: string; assetKey?: string; passed?: boolean; severity?: string } | undefined;
  if (check && typeof check === 'object') {
    const verdict = check.passed ? 'passed' : `failed${check.severity ? ` (${check.severity})` : ''}`;
    lines.push(`check ${check.name ?? '?'} on ${check.assetKey ?? '?'}: ${verdict}`);
  }
  const metadata = data.metadata;
  if (metadata && typeof metadata === 'object' && !Array.isArray(metadata)) {
    for (const [label, value] of Object.entries(metadata)) {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      const cut = text.length > METADATA_VALUE_CHARS ? `${text.slice(0, METADATA_VALUE_CHARS)}…` : text;
      lines.push(`${label}: ${cut.replace(/\n/g, ' ')}`);
    }
  }
  return lines.map((l) => `\n${' '.repeat(20)}${l}`).join('');
}

async function fetchLogs(api: UserApi, id: string, stream: string, afterOffset: number): Promise<LogChunk> {
  const res = await api.request<{ run: { computeLogs: LogChunk } | null }>(
    `query($id: ID!, $stream: ComputeLogStream!, $after: Float) { run(id: $id) { computeLogs(stream: $stream, afterOffset: $after) { data nextOffset } } }`,
    { id, stream: stream.toUpperCase(), after: afterOffset },
  );
  if (!res.run) throw new OutpostError('UNKNOWN_RUN', { detail: id });
  return res.run.computeLogs;
}

/** Polls the run until it ends, printing new events and log bytes as they arrive. */
async function follow(
  api: UserApi,
  id: string,
  opts: { json: boolean; logs: boolean; events?: boolean; streams?: string[] },
): Promise<RunRow> {
  // Events carry one public seq per run (1..N, no gap, ENGINE events included): page by it.
  let afterSeq = 0;
  const offsets: Record<string, number> = { stdout: 0, stderr: 0 };
  const streams = opts.streams ?? ['stdout', 'stderr'];
  let hinted = false;
  // Bounded: a run followed for over ~28 hours stops being followed.
  for (let i = 0; i < 200_000; i++) {
    const res = await api.request<{ run: (RunRow & { events: EventRow[] }) | null }>(
      `query($id: ID!, $after: Int) { run(id: $id) { ${RUN_FIELDS} events(afterSeq: $after) { ${EVENT_FIELDS} } } }`,
      { id, after: afterSeq },
    );
    const run = res.run;
    if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: id });
    // Once, on stderr (stdout stays the NDJSON contract under --json).
    if (!hinted && run.status === 'QUEUED' && i % 10 === 0) {
      const hint = await waitingHint(api, run);
      if (hint) {
        hinted = true;
        process.stderr.write(`${hint.trim()}\n`);
      }
    }
    let fresh = 0;
    for (const e of run.events) {
      afterSeq = Math.max(afterSeq, e.seq);
      fresh++;
      if (opts.events === false) continue;
      console.log(opts.json ? JSON.stringify({ event: e }) : formatEvent(e));
    }
    if (opts.logs) {
      for (const stream of streams) {
        for (let j = 0; j < 1000; j++) {
          const chunk = await fetchLogs(api, id, stream, offsets[stream] ?? 0);
          if (!chunk.data) break;
          offsets[stream] = chunk.nextOffset;
          if (opts.json) console.log(JSON.stringify({ log: { stream, data: chunk.data } }));
          else (stream === 'stderr' ? process.stderr : process.stdout).write(chunk.data);
        }
      }
    }
    if (isTerminalRunStatus(run.status) && fresh === 0) return run;
    await new Promise((r) => setTimeout(r, 400));
  }
  throw new OutpostError('INTERNAL', { detail: 'gave up following the run' });
}
