// The `outpost` command line. Each subcommand lives in its own file under commands/.
import { Command } from 'commander';
import { formatError, isOutpostError } from '../shared/errors.js';
import { registerApiCommand } from './commands/api.js';
import { registerCodeServerCommand } from './commands/code-server.js';

const program = new Command()
  .name('outpost')
  .description('Outpost: hybrid orchestration with a control plane and a Temporal-backed agent.')
  .showHelpAfterError();

// The control plane runs graphql-js without its development-mode checks (a cross-realm
// `instanceOf` on every type test: ~7 % of its CPU while ingesting events). Only there: agents
// pass their environment on to user code, which must see the user's own NODE_ENV.
if (process.argv[2] === 'control-plane') process.env.NODE_ENV ??= 'production';

// The run worker (`api execute-run`, once per run) and the code server start often and must
// not pay for loading every other command (Temporal, GraphQL...): those are loaded only when needed.
if (!['api', 'code-server'].includes(process.argv[2] ?? '')) {
  (await import('./commands/agent.js')).registerAgentCommand(program);
  (await import('./commands/assets.js')).registerAssetsCommand(program);
  (await import('./commands/automation.js')).registerAutomationCommands(program);
  (await import('./commands/control-plane.js')).registerControlPlaneCommand(program);
  (await import('./commands/dev.js')).registerDevCommand(program);
  (await import('./commands/locations.js')).registerLocationsCommand(program);
  (await import('./commands/runs.js')).registerRunsCommand(program);
  (await import('./commands/signin-link.js')).registerSignInLinkCommand(program);
  (await import('./commands/tokens.js')).registerTokensCommand(program);
}
registerApiCommand(program);
registerCodeServerCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(formatError(err));
  process.exit(isOutpostError(err) ? 2 : 1);
});
