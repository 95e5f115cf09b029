// The `outpost` command line. Each subcommand lives in its own file under commands/.
import { Command } from 'commander';
import { formatError, isOutpostError } from '../shared/errors.js';
import { registerDevCommand } from './commands/dev.js';

const program = new Command()
  .name('outpost')
  .description('Outpost: hybrid orchestration with a control plane and a Temporal-backed agent.')
  .showHelpAfterError();

registerDevCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(formatError(err));
  process.exit(isOutpostError(err) ? 2 : 1);
});
