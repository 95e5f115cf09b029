// `outpost code-server`: serve one definitions module over gRPC (the agent starts one per location).
// Prints `OUTPOST_CODE_SERVER_READY port=<port> server_id=<id>` on stdout once it answers.
import type { Command } from 'commander';

interface CodeServerFlags {
  module: string;
  port: string;
  host: string;
  location?: string;
  callTimeoutMs: string;
  loadTimeoutMs: string;
  exitWithParent?: boolean;
}

export function registerCodeServerCommand(program: Command): void {
  program
    .command('code-server')
    .description('Serve a definitions module over the user-code gRPC contract')
    .requiredOption(
      '--module <path>',
      'definitions module (TypeScript or JS) whose default export is defineLocation(...)',
    )
    .option('--port <port>', 'port to listen on; 0 picks a free one', '0')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--location <name>', "location name to report (default: the module's, else `default`)")
    .option('--call-timeout-ms <ms>', 'bound on each call into user code', '30000')
    .option('--load-timeout-ms <ms>', 'bound on importing the module', '30000')
    .option('--exit-with-parent', 'shut down when stdin closes (the agent holds it open; set by the agent)')
    .action(async (flags: CodeServerFlags) => {
      // Before user code loads (idle-collect.ts says why).
      const { collectWhenIdle, takeCollector } = await import('../../shared/idle-collect.js');
      const collect = takeCollector();
      const { stripCredentials } = await import('../../user-code/common/strip-credentials.js');
      stripCredentials();
      const [{ startCodeServer }, { createLogger }, { loadConfig, portSchema, positiveInt }, { z }] = await Promise.all(
        [
          import('../../user-code/code-server/code-server.js'),
          import('../../shared/logger.js'),
          import('../../shared/config.js'),
          import('zod'),
        ],
      );
      const cfg = loadConfig(
        z.object({ port: portSchema, callTimeoutMs: positiveInt, loadTimeoutMs: positiveInt }),
        {
          port: { flag: '--port', env: 'OUTPOST_CODE_SERVER_PORT' },
          callTimeoutMs: { flag: '--call-timeout-ms', env: 'OUTPOST_CODE_SERVER_CALL_TIMEOUT_MS' },
          loadTimeoutMs: { flag: '--load-timeout-ms', env: 'OUTPOST_CODE_SERVER_LOAD_TIMEOUT_MS' },
        },
        { port: flags.port, callTimeoutMs: flags.callTimeoutMs, loadTimeoutMs: flags.loadTimeoutMs },
      );
      // Logs go to stderr: stdout carries the READY line (and whatever user code prints).
      const logger = createLogger({ name: 'code-server', destination: process.stderr });
      const server = await startCodeServer({
        module: flags.module,
        host: flags.host,
        port: cfg.port,
        callTimeoutMs: cfg.callTimeoutMs,
        loadTimeoutMs: cfg.loadTimeoutMs,
        logger,
        ...(flags.location ? { locationName: flags.location } : {}),
      });
      process.stdout.write(`OUTPOST_CODE_SERVER_READY port=${server.port} server_id=${server.serverId}\n`);
      // Loading the module leaves V8's young generation at its largest: give it back once quiet.
      collectWhenIdle(collect, { logger });
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        void server.close(5_000).then(() => process.exit(0));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      if (flags.exitWithParent) {
        // The agent's end of the pipe closes however the agent dies, kill -9 included, so a
        // code server never outlives the agent that started it.
        process.stdin.on('end', () => stop('parent exited')).resume();
      }
    });
}
