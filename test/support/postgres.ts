// A throwaway PostgreSQL cluster on a free loopback port in a temp dir, for tests and benchmarks.
// Runs as the `postgres` OS user when we are root (initdb refuses root).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/shared/net.js';

export interface PgCluster {
  /** Superuser URL of the `postgres` database. */
  url: string;
  /** Stops the server (fast shutdown) and keeps its data, so `restart` brings it back on the same port. */
  pause(): void;
  /** Starts a paused server again. */
  restart(): void;
  stop(): void;
}

/** Directory holding initdb/pg_ctl: $OUTPOST_PG_BIN, else Debian's /usr/lib/postgresql/<newest>/bin. */
export function findPgBin(): string | undefined {
  if (process.env.OUTPOST_PG_BIN) return process.env.OUTPOST_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

function asPgUser(): { prefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
}

function run(prefix: string[], cmd: string, args: string[]): void {
  const [bin, ...rest] = [...prefix, cmd, ...args];
  const res = spawnSync(bin!, rest, { encoding: 'utf8', timeout: 120_000 });
  if (res.status !== 0) {
    throw new Error(`${cmd} failed (${res.status}): ${res.stderr || res.stdout || res.error?.message}`);
  }
}

/** Starts a cluster; throws with the reason when it cannot. */
export async function startPostgres(): Promise<PgCluster> {
  const bin = findPgBin();
  if (!bin)
    throw new Error(
      'PostgreSQL server binaries not found (install Debian package `postgresql`, or set OUTPOST_PG_BIN)',
    );
  const user = asPgUser();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-pg-'));
  chmodSync(dir, 0o755);
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  const data = join(dir, 'data');
  const port = await freePort();
  run(user.prefix, join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'outpost',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ]);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  let running = false;
  const start = (): void => {
    run(user.prefix, join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-o',
      opts,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    running = true;
  };
  start();
  let stopped = false;
  return {
    url: `postgres://outpost@127.0.0.1:${port}/postgres`,
    pause() {
      run(user.prefix, join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    restart: start,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        if (running) run(user.prefix, join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
