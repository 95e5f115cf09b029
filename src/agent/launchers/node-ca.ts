// Node 20 with NODE_EXTRA_CA_CERTS set builds its whole root store at every start: its ~140
// bundled roots and every certificate of the file parsed before any code runs, ~85 ms of CPU per
// process with a 144-certificate file (the system bundle many images name there) against ~40 ms
// for all of `node -e 0`. Every run worker, standby and code server the agent spawns paid it.
//
// Same trust, paid on use: once per agent start the agent files the certificates that process
// would trust (Node's bundled roots and the file's) in a hashed directory (subject-hash.ts) under
// its data dir, and starts Outpost's own Node processes with `--use-openssl-ca`,
// SSL_CERT_DIR=<that directory> and SSL_CERT_FILE=<the few sharing a name hash> instead of
// NODE_EXTRA_CA_CERTS. OpenSSL then reads a certificate from the directory only when a chain
// needs it. The entry (src/user-code/common/node-ca-restore.ts) creates the root store from
// those settings before any user code runs, then puts back the environment and execArgv the
// user set, so user code and every process it starts see and inherit exactly what they did.
// Anything this cannot reproduce exactly (a file that is not clean PEM certificates, NODE_OPTIONS
// choosing a store, a location's own NODE_EXTRA_CA_CERTS, another Node major) changes nothing.
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { RUNS_COMPILED } from '../../shared/cli-command.js';
import { CA_VARIABLES, NODE_CA_ENV, USE_OPENSSL_CA } from '../../shared/node-ca-env.js';
import { subjectHash } from './subject-hash.js';

export interface NodeCaStore {
  /** The NODE_EXTRA_CA_CERTS value it stands for. */
  extraCerts: string;
  /** That file as it was read (device, inode, size, mtime): a start after it changed is plain. */
  read: string;
  /** The hashed directory: Node's bundled roots and the file's certificates, but those below. */
  dir: string;
  /**
   * The certificates whose subject hash another one shares, loaded when the store is created:
   * for a name held by several certificates, OpenSSL's directory lookup may answer with one of
   * them where the in-memory store answers with all (a self-signed root presented as a server's
   * own certificate would then not match). Often empty.
   */
  file: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----/g;

/** DER of every block, or undefined unless the text is PEM certificates only, each parsing. */
function certificates(text: string): Buffer[] | undefined {
  const out: Buffer[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] !== 'CERTIFICATE') return undefined;
    const der = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
    try {
      new X509Certificate(der);
    } catch {
      return undefined;
    }
    out.push(der);
  }
  // A BEGIN line that did not pair with its END: Node would warn and keep part of the file.
  return out.length === (text.match(/-----BEGIN /g) ?? []).length ? out : undefined;
}

const toPem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')
    .trimEnd()}\n-----END CERTIFICATE-----\n`;

const decided = new Map<string, NodeCaStore | undefined>();

/**
 * The store for `env`'s NODE_EXTRA_CA_CERTS, written under `dataDir` on first use and remembered
 * for the agent's life; undefined when the variable is unset or the start cannot stay exact.
 */
export function nodeCaStore(dataDir: string, env: NodeJS.ProcessEnv): NodeCaStore | undefined {
  const extraCerts = env.NODE_EXTRA_CA_CERTS;
  if (!extraCerts || Number(process.versions.node.split('.')[0]) !== 20) return undefined;
  // The entry creates the store through process.getBuiltinModule (Node >= 20.16; engines allow 20.3).
  if (typeof process.getBuiltinModule !== 'function') return undefined;
  // The operator's way back to the plain start (and the benchmarks' A/B within one build).
  if (env.OUTPOST_NODE_CA_STORE === 'off') return undefined;
  // SSL_CERT_DIR is a list separated by ':'.
  if (dataDir.includes(':')) return undefined;
  const key = `${dataDir}\0${extraCerts}`;
  if (!decided.has(key)) {
    decided.set(key, buildInChild(dataDir, extraCerts));
  }
  return decided.get(key);
}

/** What identifies the file's content without reading it, checked at every start. */
function fileState(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** Store directories not used by an agent start for this long are removed (workers outlive restarts). */
const STALE_STORE_MS = 30 * 24 * 3600_000;

/** The child's entry (node-ca-build.ts): argv dataDir, extraCerts; prints the store as JSON. */
const BUILD_ENTRY = fileURLToPath(new URL('./node-ca-build.ts', import.meta.url));

/**
 * buildStore in a short-lived child. Parsing Node's bundled roots and the file (~290
 * certificates here) grew the agent's young generation and left OpenSSL's freed certificates in
 * its malloc arena: ~5 MB of RSS an idle agent never gave back, for a store whose result is four
 * strings. The child reads neither NODE_EXTRA_CA_CERTS (it needs the file's text, not its trust)
 * nor NODE_OPTIONS. Whatever it cannot do (a certificate subjectHash cannot read, an unwritable
 * data dir, a child that fails) is the plain start, as promised.
 */
function buildInChild(dataDir: string, extraCerts: string): NodeCaStore | undefined {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  const loader = RUNS_COMPILED ? [] : ['--import', import.meta.resolve('tsx')];
  const child = spawnSync(process.execPath, [...loader, BUILD_ENTRY, dataDir, extraCerts], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  if (child.status !== 0) return undefined;
  try {
    const store = JSON.parse(child.stdout) as NodeCaStore | null;
    return store && store.extraCerts === extraCerts ? store : undefined;
  } catch {
    return undefined;
  }
}

/** The store's files under `dataDir` (run in the child: buildInChild). */
export function buildStore(dataDir: string, extraCerts: string): NodeCaStore | undefined {
  const read = fileState(extraCerts);
  let text: string;
  try {
    text = readFileSync(extraCerts, 'utf8');
  } catch {
    return undefined; // Node warns at each start and trusts its bundle only: left to Node.
  }
  if (!read || read !== fileState(extraCerts)) return undefined; // changed while read
  const extra = certificates(text);
  const bundled = certificates(rootCertificates.join('\n'));
  if (!extra || !bundled) return undefined;
  const unique = new Map<string, Buffer>();
  for (const der of [...bundled, ...extra]) unique.set(der.toString('base64'), der);
  const ders = [...unique.values()].sort((a, b) => Buffer.compare(a, b));
  const digest = createHash('sha256');
  for (const d of ders) digest.update(d);
  const root = join(dataDir, 'node-ca');
  const dir = join(root, digest.digest('hex').slice(0, 32));
  const file = join(dir, 'shared-hash.pem');
  if (!existsSync(file)) {
    mkdirSync(root, { recursive: true, mode: 0o755 });
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { mode: 0o755 });
    const byHash = new Map<string, Buffer[]>();
    for (const der of ders) {
      const h = subjectHash(der);
      byHash.set(h, [...(byHash.get(h) ?? []), der]);
    }
    const shared: Buffer[] = [];
    for (const [h, group] of byHash) {
      if (group.length > 1) shared.push(...group);
      else writeFileSync(join(tmp, `${h}.0`), toPem(group[0]!), { mode: 0o644 });
    }
    writeFileSync(join(tmp, 'shared-hash.pem'), shared.map(toPem).join(''), { mode: 0o644 });
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another agent on this data dir wrote it
    }
    if (!existsSync(file)) return undefined;
  }
  // Run workers and standbys started from an older store outlive an agent restart and read it on
  // use: a store (or a crashed start's .tmp) goes only once no start has used it for 30 days.
  const now = new Date();
  utimesSync(dir, now, now);
  for (const other of readdirSync(root)) {
    const path = join(root, other);
    if (path === dir) continue;
    try {
      if (now.getTime() - statSync(path).mtimeMs > STALE_STORE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
  }
  return { extraCerts, read, dir, file };
}

/**
 * NODE_OPTIONS that choose a store or an OpenSSL configuration, or preload code that would run
 * before the entry restores the user's environment: the start must not differ.
 */
const STORE_OPTIONS =
  /--use-(openssl|bundled)-ca|--openssl-(shared-)?config|--require|(^|\s)-r(\s|=|$)|--import|--loader|--experimental-loader/;

/**
 * The command and environment that start `cmd` (Outpost's own Node on its entry, `cli`) with the
 * store instead of NODE_EXTRA_CA_CERTS; the same ones when that would not be exact.
 */
export function withNodeCa(
  store: NodeCaStore | undefined,
  cli: readonly string[],
  cmd: string[],
  env: NodeJS.ProcessEnv,
): { cmd: string[]; env: NodeJS.ProcessEnv; applied: boolean } {
  const same = { cmd, env, applied: false };
  if (!store || env.NODE_EXTRA_CA_CERTS !== store.extraCerts || STORE_OPTIONS.test(env.NODE_OPTIONS ?? '')) {
    return same;
  }
  // The file changed since the store was built (update-ca-certificates): what Node would read now.
  if (fileState(store.extraCerts) !== store.read) return same;
  if (cmd.length < cli.length || cli.some((a, i) => cmd[i] !== a) || cli[0] !== process.execPath) return same;
  const saved: Record<string, string | null> = {};
  for (const name of CA_VARIABLES) saved[name] = env[name] ?? null;
  const next: NodeJS.ProcessEnv = { ...env, SSL_CERT_FILE: store.file, SSL_CERT_DIR: store.dir };
  delete next.NODE_EXTRA_CA_CERTS;
  next[NODE_CA_ENV] = JSON.stringify(saved);
  return { cmd: [cmd[0]!, USE_OPENSSL_CA, ...cmd.slice(1)], env: next, applied: true };
}
