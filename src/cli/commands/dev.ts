// `outpost dev` (what `npm start` runs): the whole system on the embedded default, in one terminal.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { assertPortFree } from '../../shared/net.js';
import { startDevServer } from '../../shared/temporal-dev-server.js';

interface DevOptions {
  dataDir: string;
  temporalPort: string;
  temporalUiPort: string;
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('Run Temporal (with its UI) and Outpost locally, state kept under the data dir')
    .option('--data-dir <dir>', 'where state lives (Temporal and Outpost SQLite files, tokens)', '.outpost')
    .option('--temporal-port <port>', 'Temporal frontend gRPC port', '7233')
    .option('--temporal-ui-port <port>', 'Temporal Web UI port', '8233')
    .action(async (opts: DevOptions) => {
      const dataDir = resolve(opts.dataDir);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const port = Number(opts.temporalPort);
      const uiPort = Number(opts.temporalUiPort);
      await assertPortFree(port, '127.0.0.1', '--temporal-port');
      await assertPortFree(uiPort, '127.0.0.1', '--temporal-ui-port');
      const prefix = (tag: string) => (line: string) => console.log(`[${tag}] ${line}`);
      const log = prefix('outpost');
      log('starting Temporal dev server...');
      const temporal = await startDevServer({
        dbFile: join(dataDir, 'temporal.db'),
        port,
        uiPort,
        logFile: join(dataDir, 'temporal.log'),
      });
      log(`Temporal:    ${temporal.address} (namespace ${temporal.namespace})`);
      log(`Temporal UI: ${temporal.uiUrl}`);
      log(`data dir:    ${dataDir}`);
      log('press Ctrl-C to stop');
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        log('stopping...');
        void temporal.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      temporal.process.once('exit', (code) => {
        if (!stopping) {
          log(`Temporal dev server exited unexpectedly (code ${code}); see ${join(dataDir, 'temporal.log')}`);
          process.exit(1);
        }
      });
    });
}
