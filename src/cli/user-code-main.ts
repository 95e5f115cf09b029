// The entry compiled user-code processes start with (code servers, run workers, standbys:
// src/shared/cli-command.ts defaultCliCommand). Run workers and standbys start once per run, so
// the agent's own form for them — `api execute-run` or `api run-worker-standby`, then `--flag
// value` pairs of that command's flags, each once, the required ones present — runs the command
// without loading the CLI's option parser (commander: ~8 ms of CPU per boot). Anything else (a code
// server, help, a flag in another form, a value that looks like a flag) is the full CLI, main.ts,
// on the same argv: parsed, checked and reported exactly as before.
import '../user-code/common/node-ca-restore.js';
import {
  executeRun,
  runWorkerStandby,
  WORKER_DEFAULTS,
  type ExecuteRunFlags,
  type StandbyFlags,
} from './commands/api.js';

const COMMANDS: Record<string, { required: string[]; optional: string[] }> = {
  'execute-run': {
    required: ['run-id', 'module', 'job', 'spool-dir'],
    optional: ['config-file', 'ops', 'max-concurrency', 'grace-ms'],
  },
  'run-worker-standby': { required: ['module'], optional: ['max-concurrency', 'grace-ms'] },
};

const camel = (flag: string): string => flag.replace(/-(.)/g, (_m, c: string) => c.toUpperCase());

/** The flags after `api <command>` when they are in the plain form, else undefined. */
export function plainWorkerFlags(command: string, args: string[]): Record<string, string> | undefined {
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command]! : undefined;
  if (!spec || args.length % 2) return undefined;
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = /^--([a-z-]+)$/.exec(args[i]!)?.[1];
    const value = args[i + 1]!;
    if (!name || value.startsWith('-') || camel(name) in flags) return undefined;
    if (!spec.required.includes(name) && !spec.optional.includes(name)) return undefined;
    flags[camel(name)] = value;
  }
  return spec.required.every((f) => camel(f) in flags) ? { ...WORKER_DEFAULTS, ...flags } : undefined;
}

const [, , top, command = '', ...rest] = process.argv;
const flags = top === 'api' ? plainWorkerFlags(command, rest) : undefined;
if (!flags) {
  await import('./main.js');
} else {
  try {
    if (command === 'execute-run') await executeRun(flags as unknown as ExecuteRunFlags);
    else await runWorkerStandby(flags as unknown as StandbyFlags);
  } catch (err) {
    // As main.ts reports a command's failure.
    const { formatError, isOutpostError } = await import('../shared/errors.js');
    console.error(formatError(err));
    process.exit(isOutpostError(err) ? 2 : 1);
  }
}
