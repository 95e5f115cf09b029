// The `outpost` command line. Each subcommand lives in its own file under commands/, loaded
// only when that command runs: a client command (`runs list`) must not pay for Temporal, the
// store or the server, and the run worker (`api execute-run`, once per run) and the code server
// start often. Help without a command (or an unknown one) loads every registration.
import '../user-code/common/node-ca-restore.js';
import { Command } from './commander.js';
import { formatError, isOutpostError } from '../shared/errors.js';

type Register = (program: Command) => void;

/** Each top-level command → its registration, imported on demand. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  agent: async () => (await import('./commands/agent.js')).registerAgentCommand,
  assets: async () => (await import('./commands/assets.js')).registerAssetsCommand,
  schedules: async () => (await import('./commands/automation.js')).registerAutomationCommands,
  'control-plane': async () => (await import('./commands/control-plane.js')).registerControlPlaneCommand,
  dev: async () => (await import('./commands/dev.js')).registerDevCommand,
  locations: async () => (await import('./commands/locations.js')).registerLocationsCommand,
  runs: async () => (await import('./commands/runs.js')).registerRunsCommand,
  'signin-link': async () => (await import('./commands/signin-link.js')).registerSignInLinkCommand,
  tokens: async () => (await import('./commands/tokens.js')).registerTokensCommand,
  api: async () => (await import('./commands/api.js')).registerApiCommand,
  'code-server': async () => (await import('./commands/code-server.js')).registerCodeServerCommand,
};
/** Commands registered together with another (automation.ts registers both). */
const ALIASES: Record<string, string> = { sensors: 'schedules' };

const program = new Command()
  .name('outpost')
  .description('Outpost: hybrid orchestration with a control plane and a Temporal-backed agent.')
  .showHelpAfterError();

// The control plane runs graphql-js without its development-mode checks (a cross-realm
// `instanceOf` on every type test: ~7 % of its CPU while ingesting events). Only there: agents
// pass their environment on to user code, which must see the user's own NODE_ENV.
if (process.argv[2] === 'control-plane') process.env.NODE_ENV ??= 'production';

const name = process.argv[2] ?? '';
const load = COMMANDS[ALIASES[name] ?? name];
for (const register of load ? [load] : Object.values(COMMANDS)) (await register())(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(formatError(err));
  process.exit(isOutpostError(err) ? 2 : 1);
});
