// `outpost schedules start|stop|list|test` and `outpost sensors start|stop|list|test`. `test`
// evaluates without launching (Dagster's "test schedule / test sensor"); an error the user's code
// raised is printed and exits 1, like a failed deploy.
import type { Command } from 'commander';
import { OutpostError } from '../../shared/errors.js';
import { type ClientOptions, userApi, withClientOptions } from '../client.js';
import { printTable, runAction } from '../output.js';

interface Automation {
  name: string;
  job: string;
  state: string;
  cron?: string;
  nextTickAt?: number | null;
  minIntervalSeconds?: number;
  cursor?: string | null;
  /** Sensors only: why Outpost cannot evaluate it (e.g. Dagster's declarative automation). */
  unsupported?: string | null;
}

type Kind = 'schedules' | 'sensors';

export function registerAutomationCommands(program: Command): void {
  register(program, 'schedules');
  register(program, 'sensors');
}

function register(program: Command, kind: Kind): void {
  const noun = kind === 'schedules' ? 'schedule' : 'sensor';
  const cmd = program.command(kind).description(`Turn ${kind} on and off`);
  const fields =
    kind === 'schedules' ? 'name job state cron nextTickAt' : 'name job state minIntervalSeconds cursor unsupported';
  const mutation = kind === 'schedules' ? 'setScheduleState' : 'setSensorState';

  withClientOptions(cmd.command('list').description(`List ${kind} of every code location`)).action(
    (opts: ClientOptions) =>
      runAction(opts, async () => {
        const api = userApi(opts);
        const res = await api.request<{ codeLocations: ({ name: string } & Record<Kind, Automation[]>)[] }>(
          `{ codeLocations { name ${kind} { ${fields} } } }`,
        );
        const rows = res.codeLocations.flatMap((l) => l[kind].map((a) => ({ location: l.name, ...a })));
        return {
          data: rows,
          text: () =>
            [
              printTable(
                [
                  'LOCATION',
                  noun.toUpperCase(),
                  'JOB',
                  'STATE',
                  kind === 'schedules' ? 'CRON' : 'INTERVAL',
                  kind === 'schedules' ? 'NEXT TICK' : 'CURSOR',
                ],
                rows.map((r) => [
                  r.location,
                  r.name,
                  r.job,
                  r.unsupported ? `${r.state} (UNSUPPORTED)` : r.state,
                  kind === 'schedules' ? (r.cron ?? '') : `${r.minIntervalSeconds ?? ''}s`,
                  kind === 'schedules' ? (r.nextTickAt ? new Date(r.nextTickAt).toISOString() : '') : (r.cursor ?? ''),
                ]),
              ),
              // What UNSUPPORTED means, per sensor: the same coded reason starting it is refused with.
              ...rows
                .filter((r) => r.unsupported)
                .map((r) => `${r.location}/${r.name}: OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE: ${r.unsupported}`),
            ].join('\n'),
        };
      }),
  );

  const testFlag =
    kind === 'schedules'
      ? { flags: '--tick-time <time>', description: 'the tick to evaluate: ISO 8601 or epoch ms (default now)' }
      : { flags: '--cursor <cursor>', description: 'the cursor to evaluate from (default none)' };
  withClientOptions(
    cmd
      .command('test <location> <name>')
      .description(`Evaluate a ${noun} now without launching anything`)
      .option(testFlag.flags, testFlag.description),
  ).action((location: string, name: string, opts: ClientOptions & { tickTime?: string; cursor?: string }) =>
    runAction(opts, async () => {
      const api = userApi(opts);
      const field = kind === 'schedules' ? 'testSchedule' : 'testSensor';
      const input =
        kind === 'schedules'
          ? { location, name, ...(opts.tickTime !== undefined ? { tickTime: parseTickTime(opts.tickTime) } : {}) }
          : { location, name, ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}) };
      const res = await api.request<Record<string, TickEvaluation>>(
        `mutation($input: ${kind === 'schedules' ? 'TestScheduleInput' : 'TestSensorInput'}!) { ${field}(input: $input) {
          runRequests { runKey job runConfig tags partitionKey } skipReason cursor error } }`,
        { input },
      );
      const ev = res[field]!;
      return { data: ev, text: () => describeEvaluation(ev, kind), exitCode: ev.error ? 1 : 0 };
    }),
  );

  for (const [verb, state] of [
    ['start', 'RUNNING'],
    ['stop', 'STOPPED'],
  ] as const) {
    withClientOptions(
      cmd
        .command(`${verb} <name>`)
        .description(`${verb === 'start' ? 'Turn on' : 'Turn off'} a ${noun}`)
        .option('--location <name>', 'code location', 'hello'),
    ).action((name: string, opts: ClientOptions & { location: string }) =>
      runAction(opts, async () => {
        const api = userApi(opts);
        const res = await api.request<Record<string, Automation>>(
          `mutation($location: String!, $name: String!, $state: AutomationState!) { ${mutation}(location: $location, name: $name, state: $state) { name state } }`,
          { location: opts.location, name, state },
        );
        const a = res[mutation]!;
        return { data: a, text: () => `${noun} ${a.name}: ${a.state}` };
      }),
    );
  }
}

interface TickEvaluation {
  runRequests: Array<{
    runKey: string | null;
    job: string;
    runConfig: unknown;
    tags: Record<string, string>;
    partitionKey: string | null;
  }>;
  skipReason: string | null;
  cursor: string | null;
  error: string | null;
}

/** `--tick-time`: epoch ms (digits) or an ISO 8601 date. */
export function parseTickTime(v: string): number {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `--tick-time ${JSON.stringify(v)} is neither epoch ms nor ISO 8601`,
    });
  }
  return ms;
}

function describeEvaluation(ev: TickEvaluation, kind: Kind): string {
  if (ev.error) return `error: ${ev.error}`;
  const lines: string[] = [];
  if (ev.runRequests.length) {
    lines.push(
      printTable(
        ['RUN KEY', 'JOB', 'PARTITION', 'TAGS', 'RUN CONFIG'],
        ev.runRequests.map((r) => [
          r.runKey ?? '',
          r.job,
          r.partitionKey ?? '',
          Object.entries(r.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
          JSON.stringify(r.runConfig),
        ]),
      ),
    );
  } else lines.push(`no run requests${ev.skipReason ? `: ${ev.skipReason}` : ''}`);
  if (kind === 'sensors') lines.push(`cursor: ${ev.cursor ?? '(unchanged)'}`);
  lines.push('(nothing was launched)');
  return lines.join('\n');
}
