// Starts a real `outpost dev` (Temporal dev server, control plane, agent, examples/hello) in
// a throwaway data dir on free ports, for browser tests, and stops it with SIGINT like Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../src/shared/net.js';
import { alive, descendants, processesOfDir, startTimeOf } from './process.js';
import { sleep } from './wait.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

export interface DevStack {
  /** Process id of `outpost dev` itself. */
  pid: number;
  url: string;
  /** The one-time link `outpost dev` prints: `<url>/signin#code=...` (works once, for minutes). */
  signInLink: string;
  /** The ADMIN user token, read from `<dataDir>/user.token` (it is never printed). */
  userToken: string;
  dataDir: string;
  temporalUiUrl: string;
  output: string[];
  /** Whether each token file existed, and its mode, at the moment /healthz first answered 200. */
  tokensAtFirstHealthz: Record<'user' | 'agent', { exists: boolean; mode?: number }> | undefined;
  /** Resolves with the exit code of `outpost dev` when it ends. */
  exited: Promise<number | null>;
  /** POSTs a GraphQL request with the user token (test-side checks and setup). */
  graphql<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/** A throwaway data dir and free ports for one `outpost dev`, and the arguments that name them. */
export interface DevPlace {
  dataDir: string;
  port: number;
  uiPort: number;
  /** `--data-dir … --port … --temporal-port … --temporal-ui-port …` */
  args: string[];
}

/**
 * A data dir under the system's temp dir (named `<prefix>…`) and three free ports, as `outpost
 * dev` (or `npm start --`) takes them. Shared by these tests and the footprint-dev bench.
 */
export async function devPlace(prefix: string): Promise<DevPlace> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  return {
    dataDir,
    port,
    uiPort,
    args: [
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--temporal-port',
      String(temporalPort),
      '--temporal-ui-port',
      String(uiPort),
    ],
  };
}

export async function startDevStack(timeoutMs = 240_000, extraArgs: string[] = []): Promise<DevStack> {
  const { dataDir, port, uiPort, args } = await devPlace('outpost-e2e-');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CLI, 'dev', ...args, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, OUTPOST_LOG_LEVEL: 'warn' },
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // Watches /healthz from the start: the token files must already exist when it first answers.
  let tokensAtFirstHealthz: DevStack['tokensAtFirstHealthz'];
  void (async () => {
    while (child.exitCode === null && child.signalCode === null && !tokensAtFirstHealthz) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.ok) {
          const look = (f: string): { exists: boolean; mode?: number } =>
            existsSync(join(dataDir, f))
              ? { exists: true, mode: statSync(join(dataDir, f)).mode & 0o777 }
              : { exists: false };
          tokensAtFirstHealthz = { user: look('user.token'), agent: look('agent.token') };
        }
      } catch {
        // not listening yet
      }
      await sleep(20);
    }
  })();
  let link: string | undefined;
  const ready = new Promise<string>((resolveLink, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`outpost dev not ready in ${timeoutMs} ms:\n${output.slice(-40).join('\n')}`)),
      timeoutMs,
    );
    for (const s of [child.stdout, child.stderr]) {
      if (!s) continue;
      createInterface({ input: s }).on('line', (line) => {
        output.push(line);
        if (output.length > 2000) output.shift();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/signin#code=\S+)/.exec(line);
        if (m && !link) {
          link = m[1]!;
          clearTimeout(timer);
          resolveLink(link);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`outpost dev exited (code ${code}) before it was ready:\n${output.slice(-40).join('\n')}`));
    });
  });

  const stop = async (): Promise<void> => {
    // Each with its start time: pids wrap quickly on a busy host, never kill a stranger.
    // Once it has exited its pid may name another process: then there is no tree to look at.
    const running = child.pid !== undefined && child.exitCode === null && child.signalCode === null;
    const tree = (running ? descendants(child.pid) : []).map((pid) => [pid, startTimeOf(pid)] as const);
    const ours = ([pid, start]: readonly [number, number | undefined]): boolean =>
      alive(pid) && start !== undefined && startTimeOf(pid) === start;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => {
        // The whole group, in case a grandchild outlived its parent.
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 30_000);
      await exited;
      clearTimeout(timer);
    }
    // `outpost dev` must stop everything itself (test/e2e/cli-dev.test.ts asserts it); this only
    // makes sure a failure there does not leave processes behind on the machine.
    for (let i = 0; i < 50 && tree.some(ours); i++) await sleep(200);
    const left = tree.filter(ours).map(([pid]) => pid);
    if (left.length) {
      const what = left.map((pid) => {
        try {
          return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(2, 5).join(' ')}`;
        } catch {
          return String(pid);
        }
      });
      console.log(`# outpost dev left ${left.length} process(es) behind; killing them: ${what.join('; ')}`);
      for (const pid of left) process.kill(pid, 'SIGKILL');
    }
    // Run workers are not descendants once an agent was restarted: find them by the data dir.
    const strays = processesOfDir(dataDir);
    if (strays.length) {
      console.log(`# outpost dev left ${strays.length} process(es) of its data dir; killing them`);
      for (const p of strays) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  let signInLink: string;
  try {
    signInLink = await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  const userToken = readFileSync(join(dataDir, 'user.token'), 'utf8').trim();
  return {
    pid: child.pid!,
    url,
    signInLink,
    userToken,
    dataDir,
    temporalUiUrl: `http://127.0.0.1:${uiPort}`,
    output,
    get tokensAtFirstHealthz() {
      return tokensAtFirstHealthz;
    },
    exited,
    async graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: T; errors?: Array<{ message: string }> };
      if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
      return body.data as T;
    },
    stop,
  };
}
