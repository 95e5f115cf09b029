// `outpost locations deploy|list|show|reload`. `deploy --dagster` declares an unmodified Dagster
// code location: an interpreter (`--python`) and exactly one of --python-file, --module, --package.
// The location's env (what a Dagster EnvVar reads) comes from --env-file and --env; a secret is
// refused on the command line (`ps` and shell history show it to others) and read from the file.
import type { Command } from 'commander';
import { isCredentialName } from '../../shared/child-env.js';
import { OutpostError } from '../../shared/errors.js';
import { type ClientOptions, spinner, userApi, withClientOptions } from '../client.js';
import { readFlagFile } from '../flag-file.js';
import { printTable, runAction } from '../output.js';

interface LocationRow {
  name: string;
  status: string;
  version: number;
  loadError: string | null;
  /** False when no healthy agent serves its code server (nothing can run there now). */
  reachable: boolean;
  kind: string;
  dagsterVersion: string | null;
  jobs: { name: string }[];
  assets: { key: string }[];
}

const LOCATION_FIELDS = 'name kind dagsterVersion status version loadError reachable jobs { name } assets { key }';

interface DeployOptions {
  module?: string;
  command?: string[];
  workingDirectory?: string;
  dagster?: boolean;
  python?: string;
  pythonFile?: string;
  package?: string;
  attribute?: string;
  /** NAME=VALUE, repeatable; not for credential-named variables. */
  env?: string[];
  /** A file of NAME=VALUE lines (blank lines and # comments skipped). */
  envFile?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function envPair(text: string, where: string): [string, string] {
  const eq = text.indexOf('=');
  const name = eq > 0 ? text.slice(0, eq).trim() : '';
  if (!ENV_NAME.test(name)) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: `${where}: expected NAME=VALUE, got "${text.slice(0, 40)}"` });
  }
  return [name, text.slice(eq + 1)];
}

/** The location's env from --env-file, then --env (later wins); undefined when neither is given. */
export function deployEnv(o: Pick<DeployOptions, 'env' | 'envFile'>): Record<string, string> | undefined {
  if (!o.env?.length && o.envFile === undefined) return undefined;
  const env: Record<string, string> = {};
  if (o.envFile !== undefined) {
    const lines = readFlagFile('--env-file', o.envFile, 'a file of NAME=value lines').split(/\r?\n/);
    lines.forEach((line, i) => {
      const t = line.trim();
      if (!t || t.startsWith('#')) return;
      const [k, v] = envPair(t.replace(/^export\s+/, ''), `--env-file ${o.envFile} line ${i + 1}`);
      env[k] = v;
    });
  }
  for (const pair of o.env ?? []) {
    const [k, v] = envPair(pair, '--env');
    if (isCredentialName(k)) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `--env ${k}: a credential on the command line is visible to every user of this host (ps, shell history); put it in a file and pass --env-file`,
      });
    }
    env[k] = v;
  }
  return env;
}

/** The DeployCodeLocationInput for the flags; the API checks the rest (exactly one pointer). */
export function deployInput(name: string, o: DeployOptions): Record<string, unknown> {
  const env = deployEnv(o);
  return env ? { ...deployTarget(name, o), env } : deployTarget(name, o);
}

function deployTarget(name: string, o: DeployOptions): Record<string, unknown> {
  if (!o.dagster) {
    const dagsterOnly = (['python', 'pythonFile', 'package', 'attribute'] as const).filter((k) => o[k] !== undefined);
    if (dagsterOnly.length) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `${dagsterOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} need --dagster`,
      });
    }
    return { name, module: o.module, command: o.command, workingDirectory: o.workingDirectory };
  }
  if (!o.python) throw new OutpostError('INVALID_ARGUMENT', { detail: '--dagster needs --python <interpreter>' });
  if (o.command) throw new OutpostError('INVALID_ARGUMENT', { detail: '--dagster takes no --command' });
  return {
    name,
    dagster: {
      python: o.python,
      pythonFile: o.pythonFile,
      // Under --dagster, --module names a Python module (Dagster's -m).
      moduleName: o.module,
      packageName: o.package,
      attribute: o.attribute,
      workingDirectory: o.workingDirectory,
    },
  };
}

/** deploy/reload are scripted: anything but LOADED (ERROR, or still LOADING at the timeout) exits 1. */
const outcomeExitCode = (l: LocationRow): number => (l.status === 'LOADED' ? 0 : 1);

export function registerLocationsCommand(program: Command): void {
  const locations = program.command('locations').description('Deploy and inspect code locations');

  withClientOptions(
    locations
      .command('deploy <name>')
      .description('Declare (or update) a code location; the agent starts its code server')
      .option(
        '--module <path>',
        'definitions module, e.g. examples/hello/definitions.ts (with --dagster: a Python module)',
      )
      .option('--command <cmd...>', 'or: a command that starts a code server ({port} is replaced)')
      .option('--working-directory <dir>', 'working directory for the code server and runs')
      .option('--dagster', 'an unmodified Dagster code location (needs --python and one pointer)')
      .option('--python <path>', 'with --dagster: the interpreter that has dagster and your dependencies')
      .option('--python-file <file>', 'with --dagster: a Python file (relative: to --working-directory)')
      .option('--package <name>', 'with --dagster: a Python package')
      .option('--attribute <name>', 'with --dagster: the Definitions attribute (default: discovered)')
      .option(
        '--env-file <path>',
        "NAME=VALUE lines: the location's environment (e.g. what a Dagster EnvVar reads); secrets go here",
      )
      .option(
        '--env <NAME=VALUE>',
        'more environment, repeatable (after --env-file); credential-named variables only through --env-file',
        (pair: string, all: string[]) => [...all, pair],
        [] as string[],
      )
      .option('--no-wait', 'return at once instead of waiting for LOADED or ERROR')
      .option('--timeout <seconds>', 'how long to wait for the location to load', '120'),
  ).action(
    (
      name: string,
      opts: ClientOptions &
        DeployOptions & {
          wait: boolean;
          timeout: string;
        },
    ) =>
      runAction(opts, async () => {
        const input = deployInput(name, opts);
        const api = userApi(opts);
        await api.request(
          `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { name version } }`,
          { input },
        );
        const loc = opts.wait
          ? await waitLoaded(api, name, Number(opts.timeout), !opts.json)
          : await getLocation(api, name);
        return { data: loc, text: () => describeLocation(loc), exitCode: opts.wait ? outcomeExitCode(loc) : 0 };
      }),
  );

  withClientOptions(locations.command('list').description('List code locations and their status')).action(
    (opts: ClientOptions) =>
      runAction(opts, async () => {
        const api = userApi(opts);
        const res = await api.request<{ codeLocations: LocationRow[] }>(`{ codeLocations { ${LOCATION_FIELDS} } }`);
        return {
          data: res.codeLocations,
          text: () =>
            printTable(
              ['NAME', 'STATUS', 'AGENT', 'VERSION', 'JOBS', 'KIND', 'DAGSTER', 'ERROR'],
              res.codeLocations.map((l) => [
                l.name,
                l.status,
                l.reachable ? 'reachable' : l.status === 'ERROR' ? '-' : 'UNREACHABLE',
                String(l.version),
                String(l.jobs.length),
                l.kind,
                l.dagsterVersion ?? '-',
                firstLine(l.loadError),
              ]),
            ),
        };
      }),
  );

  withClientOptions(
    locations.command('show <name>').description('Show a code location: kind, status, jobs, assets'),
  ).action((name: string, opts: ClientOptions) =>
    runAction(opts, async () => {
      const loc = await getLocation(userApi(opts), name);
      return { data: loc, text: () => describeLocation(loc) };
    }),
  );

  withClientOptions(
    locations
      .command('reload <name>')
      .description('Restart the code server and refresh definitions')
      .option('--no-wait', 'do not wait'),
  ).action((name: string, opts: ClientOptions & { wait: boolean }) =>
    runAction(opts, async () => {
      const api = userApi(opts);
      await api.request(`mutation($name: String!) { reloadCodeLocation(name: $name) { name version } }`, { name });
      const loc = opts.wait ? await waitLoaded(api, name, 120, !opts.json) : await getLocation(api, name);
      return { data: loc, text: () => describeLocation(loc), exitCode: opts.wait ? outcomeExitCode(loc) : 0 };
    }),
  );
}

async function getLocation(api: ReturnType<typeof userApi>, name: string): Promise<LocationRow> {
  const res = await api.request<{ codeLocation: LocationRow | null }>(
    `query($name: String!) { codeLocation(name: $name) { ${LOCATION_FIELDS} } }`,
    { name },
  );
  if (!res.codeLocation) throw new OutpostError('UNKNOWN_LOCATION', { detail: name });
  return res.codeLocation;
}

async function waitLoaded(
  api: ReturnType<typeof userApi>,
  name: string,
  timeoutS: number,
  spin: boolean,
): Promise<LocationRow> {
  const s = spinner(`waiting for ${name} to load...`, spin && process.stderr.isTTY);
  const deadline = Date.now() + timeoutS * 1000;
  try {
    for (;;) {
      const loc = await getLocation(api, name);
      if (loc.status !== 'LOADING' || Date.now() > deadline) return loc;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    s.stop();
  }
}

const firstLine = (s: string | null): string => (s ?? '').split('\n')[0] ?? '';

function describeLocation(l: LocationRow): string {
  const jobs = l.jobs.map((j) => j.name).join(', ') || '(none)';
  const err = l.loadError ? `\nload error:\n${l.loadError}` : '';
  // The store keeps the last good load's definitions until a new one loads: say whose they are.
  const stale =
    l.status === 'ERROR' && (l.jobs.length || l.assets.length)
      ? `\nthe jobs and assets above are the last definitions that loaded: version ${l.version} failed, so they may no longer match the code, and runs cannot be launched until a version loads`
      : '';
  const still = l.status === 'LOADING' ? ' (still loading at the timeout)' : '';
  // A location in ERROR has no server to reach: its load error says why, not the agents. One
  // still LOADING waits for an agent to load it, which is not yet a fault.
  const agent =
    l.reachable || l.status === 'ERROR'
      ? ''
      : l.status === 'LOADING'
        ? '\nwaiting for an agent: none has loaded this location yet (is one running? see the Agents page or the `agents` query)'
        : '\nunreachable: no healthy agent serves this location (see the Agents page or the `agents` query)';
  const kind = l.kind === 'DAGSTER' ? `Dagster ${l.dagsterVersion ?? '(version unknown until loaded)'}` : 'Outpost';
  const assets = l.assets.length ? `; assets: ${l.assets.map((a) => a.key).join(', ')}` : '';
  return `${l.name}: ${l.status}${still} (${kind}, version ${l.version}); jobs: ${jobs}${assets}${stale}${err}${agent}`;
}
