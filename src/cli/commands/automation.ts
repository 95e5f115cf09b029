// `outpost schedules start|stop|list` and `outpost sensors start|stop|list`.
import type { Command } from 'commander';
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
}

type Kind = 'schedules' | 'sensors';

export function registerAutomationCommands(program: Command): void {
  register(program, 'schedules');
  register(program, 'sensors');
}

function register(program: Command, kind: Kind): void {
  const noun = kind === 'schedules' ? 'schedule' : 'sensor';
  const cmd = program.command(kind).description(`Turn ${kind} on and off`);
  const fields = kind === 'schedules' ? 'name job state cron nextTickAt' : 'name job state minIntervalSeconds cursor';
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
                r.state,
                kind === 'schedules' ? (r.cron ?? '') : `${r.minIntervalSeconds ?? ''}s`,
                kind === 'schedules' ? (r.nextTickAt ? new Date(r.nextTickAt).toISOString() : '') : (r.cursor ?? ''),
              ]),
            ),
        };
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
