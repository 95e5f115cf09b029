// Keeps user code (code servers, run workers, warm standbys) away from the agent's credentials
// by OS means. `bubblewrap` runs each child in its own PID namespace (the agent's processes,
// their /proc/<pid>/cmdline and environ are not there) and mount namespace: the agent's data
// directory and the token files' directories are empty tmpfs, Outpost's own code is
// read-only (so user code cannot plant code the agent runs next), all capabilities are
// dropped (so no mount can be undone), and only what the child needs is bound back: its
// module's directory, its working directory, its run's spool, and directories the operator
// exposes (--isolation-expose, e.g. a sensor's inbox). /tmp stays shared with the host: user
// code exchanges files there (tsx's and Outpost's compile caches in it are read-only). It keeps the agent's uid, so an
// interpreter under a private home (e.g. /root/.pyenv) still runs. `none` runs children as
// plain processes and is said loudly at start. The environment is scrubbed in both modes
// (src/shared/child-env.ts).
//
// Process shape under bubblewrap: agent → bwrap (outside) → bwrap as pid 1 of the namespace,
// leader of a new session and process group → the command. The launcher records and signals
// that pid 1: SIGTERM to its group reaches the command (pid 1 itself ignores it), SIGKILL to it
// ends the whole namespace, and the outer bwrap exits with the command's status.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutpostError } from '../../shared/errors.js';
import { childPids, readCmdline, readProcStat } from './proc.js';
import { ensureCacheDir, tsCacheDir } from '../../shared/ts-cache.js';

export const ISOLATION_SETTINGS = ['auto', 'bubblewrap', 'none'] as const;
export type IsolationSetting = (typeof ISOLATION_SETTINGS)[number];

/** Where a child runs and what it may reach besides the host's ordinary files. */
export interface SandboxPlace {
  /** Chosen by the deployer: never inside a hidden directory (refused, not bound back). */
  cwd: string;
  /** Paths the deployer chose (the module's directory): like `cwd`, refused if hidden. */
  readable?: string[];
  /** The agent's own files for the child (a run's config, a standby's directory): shown read-only. */
  internal?: string[];
  /** Directories written (a run's spool): bound read-write, at the same path or at `at`. */
  writable?: Array<string | { path: string; at: string }>;
  /** End with the agent (code servers). Never for run workers: they outlive an agent restart. */
  dieWithParent?: boolean;
}

export interface Isolation {
  readonly kind: 'bubblewrap' | 'none';
  /** One line for the startup banner. */
  readonly summary: string;
  /** The argv that runs `cmd` in `place`. */
  command(cmd: string[], place: SandboxPlace): string[];
  /**
   * The process standing for the child's whole tree, to record and to signal as a group: the
   * child itself, or the sandbox's pid 1. Undefined when the child exited before it appeared.
   */
  root(childPid: number, timeoutMs?: number): Promise<number | undefined>;
  /** How the user code ended, from what the spawned process reported. */
  exit(code: number | null, signal: NodeJS.Signals | null): { code: number | null; signal: NodeJS.Signals | null };
}

export interface IsolationOptions {
  /** Directories user code must not see (the agent's data dir, the token files' directories). */
  hideDirs: string[];
  /** Single files user code must not see (a TLS key kept next to other things). */
  hideFiles?: string[];
  /** Directories bound back read-write into every sandbox even if hidden (a sensor's inbox). */
  exposeDirs?: string[];
  bwrap?: string;
}

/**
 * Where a sandboxed warm standby finds its spool. The launcher renames the standby's spool
 * into the run's directory on handoff; a bind mount follows the directory it was made from,
 * but one whose mount point is a host directory is detached when that directory is renamed.
 * So the mount point is a path that exists only inside: in the data dir's tmpfs.
 */
export function standbySpoolInside(dataDir: string): string {
  return join(dataDir, 'sandbox-standby-spool');
}

/** Outpost's install: its code and node_modules are read-only to user code. */
const OUTPOST_ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));

export const noIsolation: Isolation = {
  kind: 'none',
  summary: 'none: user code runs as plain processes of the agent’s uid',
  command: (cmd) => cmd,
  root: (pid) => Promise.resolve(pid),
  exit: (code, signal) => ({ code, signal }),
};

/** Whether bubblewrap can start a sandbox here (binary present, namespaces allowed). */
export function bubblewrapUsable(bwrap = '/usr/bin/bwrap'): { ok: boolean; why?: string } {
  if (!existsSync(bwrap)) return { ok: false, why: `${bwrap} not found (Debian package bubblewrap)` };
  const r = spawnSync(bwrap, [...BASE_ARGS, '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  if (r.status === 0) return { ok: true };
  const err = r.stderr?.toString().trim() || r.error?.message || `exit ${r.status}`;
  return { ok: false, why: `bwrap cannot create namespaces here: ${err}` };
}

const BASE_ARGS = ['--dev-bind', '/', '/', '--unshare-pid', '--proc', '/proc', '--new-session', '--cap-drop', 'ALL'];

/** Resolves `auto` / `bubblewrap` / `none` to what this host allows; `warning` is for the banner. */
export function resolveIsolation(
  setting: IsolationSetting,
  opts: IsolationOptions,
): { isolation: Isolation; warning?: string } {
  if (setting === 'none') {
    return {
      isolation: noIsolation,
      warning: 'isolation is off (--isolation none): user code can read every file the agent can, including its token',
    };
  }
  const bwrap = opts.bwrap ?? '/usr/bin/bwrap';
  const usable = bubblewrapUsable(bwrap);
  if (usable.ok) return { isolation: bubblewrapIsolation(bwrap, opts) };
  if (setting === 'bubblewrap') {
    throw new OutpostError('ISOLATION_UNAVAILABLE', { detail: `--isolation bubblewrap: ${usable.why}` });
  }
  return {
    isolation: noIsolation,
    warning: `NO ISOLATION of user code: ${usable.why}. Code servers and runs can read every file the agent can, including its token file. Install bubblewrap, or run user code on hosts where it holds nothing of value.`,
  };
}

function canonical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}

export function bubblewrapIsolation(bwrap: string, opts: IsolationOptions): Isolation {
  const dirs = [...new Set(opts.hideDirs.filter(existsSync).map(canonical))].filter((d) => d !== '/');
  // Nested ones are covered by their parent's tmpfs.
  const hideDirs = dirs.filter((d) => !dirs.some((o) => o !== d && within(d, o)));
  const hideFiles = [...new Set((opts.hideFiles ?? []).filter(existsSync).map(canonical))];
  const root = canonical(OUTPOST_ROOT);
  const modules = canonical(join(OUTPOST_ROOT, 'node_modules'));
  // tsx's compile cache: read-only, so user code cannot poison what the agent itself loads.
  const tsxCache = join(tmpdir(), `tsx-${process.getuid?.() ?? 0}`);
  const masked = (p: string): boolean => hideDirs.some((d) => within(p, d));
  const hiddenBy = (p: string): string | undefined => hideDirs.find((d) => within(p, d));
  const fixed = [...BASE_ARGS, '--ro-bind', root, root];
  if (!within(modules, root)) fixed.push('--ro-bind', modules, modules);
  fixed.push('--ro-bind-try', tsxCache, tsxCache);
  // Outpost's compile cache for user TypeScript (filled by the agent only): made now, so it is
  // bound read-only from the first sandbox on, never left writable under the shared /tmp.
  const tsCache = tsCacheDir();
  ensureCacheDir(tsCache);
  fixed.push('--ro-bind', tsCache, tsCache);
  for (const d of hideDirs) fixed.push('--tmpfs', d);
  // A token kept inside Outpost's own tree hides that tree too: bind the code back (the token
  // files themselves are covered last, in command()).
  const rebound: string[] = [root, modules].filter((p) => hideDirs.some((d) => within(p, d)));
  for (const p of rebound) fixed.push('--ro-bind', p, p);
  for (const p of (opts.exposeDirs ?? []).filter(existsSync).map(canonical)) {
    fixed.push('--bind', p, p);
    rebound.push(p);
  }
  return {
    kind: 'bubblewrap',
    summary: `bubblewrap (${bwrap}): own PID and mount namespaces, no capabilities; hidden: ${hideDirs.join(', ') || '-'}`,
    command(cmd, place) {
      const args = [bwrap, ...fixed];
      if (place.dieWithParent) args.push('--die-with-parent');
      const shown = [...rebound];
      const show = (flag: string, p: string, at = p): void => {
        args.push(flag, p, at);
        shown.push(at);
      };
      // A deployer's path inside a hidden directory (workingDirectory: .outpost) would bind the
      // agent's data and the tokens beside it back in: refused, unless Outpost's own tree or an
      // exposed directory already shows it.
      const cwd = canonical(place.cwd);
      for (const p of [cwd, ...(place.readable ?? []).map(canonical)]) {
        if (masked(p) && !rebound.some((d) => within(p, d))) {
          throw new OutpostError('ISOLATION_PATH_HIDDEN', { detail: `${p} is inside ${hiddenBy(p)}` });
        }
      }
      for (const p of (place.internal ?? []).map(canonical)) if (masked(p)) show('--ro-bind', p);
      for (const w of place.writable ?? []) {
        if (typeof w === 'string') show('--bind', canonical(w));
        else show('--bind', canonical(w.path), w.at);
      }
      // Last, so nothing bound back above can show them again (where nothing did, the tmpfs
      // over their directory already hides them).
      for (const f of hideFiles) {
        if (!masked(f) || shown.some((d) => within(f, d))) args.push('--ro-bind', '/dev/null', f);
      }
      args.push('--chdir', cwd, '--', ...cmd);
      return args;
    },
    async root(childPid, timeoutMs = 10_000) {
      // bwrap forks its pid 1 within milliseconds of exec, and it becomes a session and group
      // leader (--new-session) right after: only then does its group hold what it runs.
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const inner = childPids(childPid).find((p) => isBwrap(p) && readProcStat(p)?.pgrp === p);
        if (inner !== undefined) return inner;
        // An empty command line is a process mid-exec (into bwrap, after a wrapper): wait on.
        const argv = readCmdline(childPid);
        if (argv === undefined || (argv.length > 0 && !isBwrap(childPid)) || Date.now() > deadline) return undefined;
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    exit(code, signal) {
      // bwrap exits 128+N when the command died of signal N. 130 and 143 are left as codes:
      // the run worker exits with them itself after handling SIGINT/SIGTERM.
      if (code !== null && code > 128 && code !== 130 && code !== 143) {
        const name = signalName(code - 128);
        if (name) return { code: null, signal: name };
      }
      return { code, signal };
    },
  };
}

/** Whether `pid` runs bubblewrap (its outer process or a sandbox's pid 1). */
export function isBwrap(pid: number): boolean {
  const argv0 = readCmdline(pid)?.[0];
  return argv0 !== undefined && basename(argv0) === 'bwrap';
}

function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(constants.signals) as Array<[NodeJS.Signals, number]>).find(([, v]) => v === n)?.[0];
}

/** For crash recovery: among processes matching a run's command line, the sandbox's pid 1. */
export function preferSandboxRoot(outermost: number, matches: Set<number>): number {
  if (!isBwrap(outermost)) return outermost;
  return childPids(outermost).find((p) => matches.has(p)) ?? outermost;
}

/** Directories holding credential files: hidden whole, since siblings may be secrets too. */
export function credentialDirs(files: Array<string | undefined>): string[] {
  return files.filter((f): f is string => Boolean(f)).map((f) => dirname(resolve(f)));
}
