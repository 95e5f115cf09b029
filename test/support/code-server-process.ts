// Spawns a real `outpost code-server` child process and gives a promise-based gRPC client to it.
// Used by the code-server tests and bench/user-code.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import {
  CodeServerServiceClient,
  type CodeServerServiceService,
} from '../../src/gen/outpost/codeserver/v1/code_server.js';

export const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

export interface CodeServerProcess {
  child: ChildProcess;
  port: number;
  serverId: string;
  client: CodeServerServiceClient;
  /** Promise-returning, fully typed calls: `await cs.call.getDefinitions({})`. */
  call: CodeServerCalls;
  /** stderr so far, for failure messages. */
  stderr(): string;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the server and waits (bounded by `readyTimeoutMs`) for its READY line. */
export async function spawnCodeServer(
  module: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  readyTimeoutMs = 30_000,
) {
  const child = spawn(process.execPath, [...CLI, 'code-server', '--module', module, '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OUTPOST_LOG_LEVEL: 'warn', ...env },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no READY line within ${readyTimeoutMs} ms; stderr: ${err}`)),
      readyTimeoutMs,
    );
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /OUTPOST_CODE_SERVER_READY port=(\d+) server_id=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code server exited (${code}) before READY; stderr: ${err}`));
    });
  });
  const port = Number(ready[1]);
  const client = new CodeServerServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const proc: CodeServerProcess = {
    child,
    port,
    serverId: ready[2]!,
    client,
    call: promiseCalls(client),
    stderr: () => err,
    async stop() {
      client.close();
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
  return proc;
}

type Svc = typeof CodeServerServiceService;
type ReqOf<K extends keyof Svc> = ReturnType<Svc[K]['requestDeserialize']>;
type ResOf<K extends keyof Svc> = ReturnType<Svc[K]['responseDeserialize']>;
export type CodeServerCalls = { [K in keyof Svc]: (req: ReqOf<K>) => Promise<ResOf<K>> };

const METHODS: Array<keyof Svc> = [
  'ping',
  'getServerInfo',
  'getDefinitions',
  'evaluateSchedule',
  'evaluateSensor',
  'getPartitionNames',
  'getPartitionConfig',
  'getPartitionTags',
  'getExecutionPlan',
];

type Callback = (err: ServiceError | null, res: unknown) => void;

export function promiseCalls(client: CodeServerServiceClient): CodeServerCalls {
  const calls: Record<string, (req: unknown) => Promise<unknown>> = {};
  for (const m of METHODS) {
    const untyped = client as unknown as Record<string, (req: unknown, cb: Callback) => unknown>;
    calls[m] = (req) =>
      new Promise((resolve, reject) => untyped[m]!(req, (err, res) => (err ? reject(err) : resolve(res))));
  }
  return calls as unknown as CodeServerCalls;
}
