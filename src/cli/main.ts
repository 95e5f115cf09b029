// The `outpost` command line. Each subcommand lives in its own file under commands/.
import { Command } from 'commander';
import { formatError, isOutpostError } from '../shared/errors.js';
import { registerAgentCommand } from './commands/agent.js';
import { registerApiCommand } from './commands/api.js';
import { registerCodeServerCommand } from './commands/code-server.js';
import { registerAutomationCommands } from './commands/automation.js';
import { registerDevCommand } from './commands/dev.js';
import { registerLocationsCommand } from './commands/locations.js';
import { registerRunsCommand } from './commands/runs.js';
import { registerTokensCommand } from './commands/tokens.js';

const program = new Command()
  .name('outpost')
  .description('Outpost: hybrid orchestration with a control plane and a Temporal-backed agent.')
  .showHelpAfterError();

registerDevCommand(program);
registerApiCommand(program);
registerAgentCommand(program);
registerCodeServerCommand(program);
registerLocationsCommand(program);
registerRunsCommand(program);
registerAutomationCommands(program);
registerTokensCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(formatError(err));
  process.exit(isOutpostError(err) ? 2 : 1);
});
