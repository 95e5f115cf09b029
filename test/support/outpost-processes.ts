// Real Outpost processes for fault injection and the footprint bench: `outpost control-plane` on
// a file-backed SQLite DB (so a kill -9 can be followed by a restart on the same DB and port) and
// `outpost agent`, both as child processes we can SIGKILL, plus a small user-API client.
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { runDir, spawnCount } from '../../src/agent/launchers/run-records.js';
import { kill9, spawnOutpost, stopGracefully } from './process.js';

/** `outpost control-plane` on sqlite:<dir>/outpost.db; restartable on the same DB and port. */
export class ControlPlaneProcess {
  child: ChildProcess | undefined;
  url = '';
  port = 0;
  userToken = '';

  /** Every line the process wrote (each life of it), for tests that read its log. */
  readonly output: string[] = [];

  constructor(
    readonly dir: string,
    readonly extraArgs: string[] = [],
    /** Default: a SQLite file in `dir`. */
    readonly databaseUrl?: string,
  ) {}

  get dbFile(): string {
    return join(this.dir, 'outpost.db');
  }

  async start(): Promise<void> {
    const { child, match } = await spawnOutpost(
      [
        'control-plane',
        '--database-url',
        this.databaseUrl ?? `sqlite:${this.dbFile}`,
        '--port',
        String(this.port),
        '--data-dir',
        this.dir,
        ...this.extraArgs,
      ],
      /control plane at (http:\/\/127\.0\.0\.1:(\d+))/,
      {},
      this.output,
    );
    this.child = child;
    this.url = match[1]!;
    this.port = Number(match[2]);
    const tokenFile = join(this.dir, 'user.token');
    if (!this.userToken && existsSync(tokenFile)) this.userToken = readFileSync(tokenFile, 'utf8').trim();
  }

  async gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.userToken}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: Array<{ message: string }> };
    if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
    return body.data as T;
  }

  async agentTokenFile(): Promise<string> {
    const r = await this.gql<{ createToken: { token: string } }>(
      `mutation { createToken(kind: AGENT, name: "faults") { token } }`,
    );
    const file = join(this.dir, 'agent.token');
    writeFileSync(file, r.createToken.token + '\n', { mode: 0o600 });
    return file;
  }

  kill9(): Promise<void> {
    return kill9(this.child);
  }

  stop(): Promise<void> {
    return stopGracefully(this.child);
  }
}

/** `outpost agent` as a child process; restartable with the same data dir (same agent id, spools). */
export class AgentProcess {
  child: ChildProcess | undefined;
  private log: WriteStream | undefined;

  constructor(
    readonly opts: {
      url: () => string;
      tokenFile: string;
      temporalAddress: string;
      taskQueue: string;
      dataDir: string;
      extraArgs?: string[];
      /** Append the agent's output (every life of it) to this file; default: drained and dropped. */
      logFile?: string;
    },
  ) {}

  async start(): Promise<ChildProcess> {
    // One stream for every life, never ended: a line the old process flushes late still lands.
    if (this.opts.logFile)
      this.log ??= createWriteStream(this.opts.logFile, { flags: 'a' }).on('error', () => undefined);
    const log = this.log;
    // Every line from the first (an agent waiting for its control plane says why before it is
    // ready); without a log file the lines are read and dropped, so a full pipe never blocks it.
    const { child } = await spawnOutpost(
      [
        'agent',
        '--url',
        this.opts.url(),
        '--token-file',
        this.opts.tokenFile,
        '--temporal-address',
        this.opts.temporalAddress,
        '--task-queue',
        this.opts.taskQueue,
        '--data-dir',
        this.opts.dataDir,
        ...(this.opts.extraArgs ?? []),
      ],
      /OUTPOST_AGENT_READY/,
      { OUTPOST_LOG_LEVEL: 'info' },
      log ? { push: (line: string) => log.write(line) } : undefined,
    );
    this.child = child;
    return child;
  }

  kill9(): Promise<void> {
    return kill9(this.child);
  }

  stop(): Promise<void> {
    return stopGracefully(this.child);
  }

  /** Lines of the launcher's append-only spawn log for a run (one per process actually spawned). */
  spawnCount(runId: string): number {
    return spawnCount(runDir(this.opts.dataDir, runId));
  }

  spoolFile(runId: string, name: string): string {
    return join(this.opts.dataDir, 'runs', runId, 'spool', name);
  }
}
