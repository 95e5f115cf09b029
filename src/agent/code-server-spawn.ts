// Spawning one code server: `outpost code-server --module …` (or the location's own command) on
// a free loopback port, in the same sandbox and credential-free environment either way, ending
// with the agent. It is serving once it prints its READY line; until then its stderr is kept
// for the error. Also how a code server is stopped (its whole tree, TERM then KILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../shared/logger.js';
import { OutpostError } from '../shared/errors.js';
import type { CodeLocationSpec } from '../shared/work-items.js';
import { credentialFreeEnv } from '../shared/child-env.js';
import { connectCodeServer, type CodeServerClient } from './code-server-client.js';
import type { Isolation } from './launchers/sandbox.js';
import { withNodeCa, type NodeCaStore } from './launchers/node-ca.js';
import { defaultCliCommand } from '../shared/cli-command.js';

export interface ServerProcess {
  child: ChildProcess;
  /** Signals the code server's whole tree (inside its sandbox, if any). */
  kill: Killer;
  port: number;
  serverId: string;
  client: CodeServerClient;
  version: number;
  exited: boolean;
}

export type Killer = (signal: NodeJS.Signals) => void;

export interface CodeServerSpawnOptions {
  /** Command that starts the CLI. */
  cli: string[];
  isolation: Isolation;
  env: NodeJS.ProcessEnv;
  secrets: string[];
  /** The agent's certificate store: Outpost's own code server starts with it (launchers/node-ca.ts). */
  nodeCa?: NodeCaStore;
  /** Wait for the READY line at most this long. */
  startTimeoutMs: number;
  logger: Logger;
}

const READY = /OUTPOST_CODE_SERVER_READY port=(\d+) server_id=(\S+)/;

/** The argv for a location: the CLI's code server for a module, else its own command. */
function serverCommand(cli: string[], spec: CodeLocationSpec, cwd: string): string[] {
  if (spec.command?.length) return spec.command.map((a) => a.replace('{port}', '0'));
  if (spec.module) {
    return [
      ...cli,
      'code-server',
      '--module',
      resolve(cwd, spec.module),
      '--port',
      '0',
      '--location',
      spec.name,
      '--exit-with-parent',
    ];
  }
  throw new OutpostError('INVALID_ARGUMENT', { detail: `location ${spec.name} has neither module nor command` });
}

/**
 * Starts the process at once (`started` is called with it before any await, so the caller can
 * track and record it) and resolves once it is serving.
 */
export function spawnCodeServer(
  o: CodeServerSpawnOptions,
  spec: CodeLocationSpec,
  version: number,
  started: (child: ChildProcess, kill: Killer) => void,
): Promise<ServerProcess> {
  const cwd = spec.workingDirectory ? resolve(spec.workingDirectory) : process.cwd();
  const cmd = serverCommand(o.cli, spec, cwd);
  // Module or command, the same rule: credential-free environment, same sandbox; it ends
  // with the agent.
  const readable = spec.module ? [dirname(resolve(cwd, spec.module))] : [];
  const start = withNodeCa(
    o.nodeCa,
    defaultCliCommand(),
    cmd,
    credentialFreeEnv(o.env, spec.env ?? {}, { secrets: o.secrets }),
  );
  const internal = start.applied ? [o.nodeCa!.dir] : [];
  const argv = o.isolation.command(start.cmd, { cwd, readable, internal, dieWithParent: true });
  const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: start.env });
  const kill = killer(child, o.isolation);
  started(child, kill);
  const log = o.logger.child({ location: spec.name, pid: child.pid });
  let stderrTail = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderrTail = (stderrTail + b.toString('utf8')).slice(-4000);
  });
  return new Promise<ServerProcess>((resolvePromise, reject) => {
    const timeoutMs = o.startTimeoutMs;
    const timer = setTimeout(() => {
      kill('SIGKILL');
      reject(new OutpostError('CODE_SERVER_UNAVAILABLE', { detail: `no READY line within ${timeoutMs} ms` }));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = READY.exec(line);
      if (!m) {
        log.debug({ line }, 'code server stdout');
        return;
      }
      clearTimeout(timer);
      const port = Number(m[1]);
      resolvePromise({ child, kill, port, serverId: m[2]!, client: connectCodeServer(port), version, exited: false });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new OutpostError('CODE_SERVER_UNAVAILABLE', {
          detail: `code server exited (code ${code}, signal ${signal}) before it was ready: ${stderrTail.trim().split('\n').slice(-5).join(' | ')}`,
        }),
      );
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new OutpostError('CODE_SERVER_UNAVAILABLE', { detail: err.message, cause: err }));
    });
  });
}

export function killServer(server: ServerProcess): Promise<void> {
  server.client.close();
  if (server.exited) return Promise.resolve();
  return killChild(server.child, server.kill);
}

/**
 * Signals what runs the user code: the child itself, or the group of its sandbox's pid 1 (a
 * signal to the outer bwrap would kill the sandbox at once, without the code server's own
 * clean shutdown).
 */
function killer(child: ChildProcess, isolation: Isolation): Killer {
  if (isolation.kind === 'none' || child.pid === undefined) return (sig) => void child.kill(sig);
  const root = isolation.root(child.pid);
  return (sig) => {
    void root.then((r) => {
      try {
        if (r !== undefined) process.kill(-r, sig);
        else child.kill(sig);
      } catch {
        child.kill(sig);
      }
    });
  };
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
export function killChild(child: ChildProcess, kill: Killer): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(t);
      res();
    });
    kill('SIGTERM');
  });
}
