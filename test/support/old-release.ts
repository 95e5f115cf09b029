// An earlier commit of this repository, run from its own sources: the real older control plane
// or agent a mixed-version test needs. The commit comes from this clone's history; a shallow
// clone lacks it, and the test then skips, saying why.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { graphqlCall, type Vars } from './graphql-call.js';
import { spawnOutpost } from './process.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** false when `commit` is in this clone, else why a test that needs it skips (printed once). */
export function releaseSkip(commit: string, test: string): false | string {
  try {
    execFileSync('git', ['-C', ROOT, 'cat-file', '-e', `${commit}^{commit}`], { stdio: 'ignore' });
    return false;
  } catch {
    const why = `commit ${commit} is not in this clone (a shallow clone?)`;
    console.log(`# skipping the ${test} test: ${why}`);
    return why;
  }
}

/** `commit`'s tree in a new temporary directory, using this install's node_modules. */
export function extractRelease(commit: string, prefix: string): string {
  const tree = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive ${commit} | tar -x -C "${tree}"`]);
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  return tree;
}

/** The command that runs that tree's CLI (with OUTPOST_FROM_SOURCE=1: it has no build). */
export const releaseCli = (tree: string): string[] => [process.execPath, join(tree, 'bin', 'outpost.mjs')];

export interface ReleaseControlPlane {
  child: ChildProcess;
  url: string;
  /** A user-API call with the ADMIN token the control plane wrote at its start. */
  gql: <T>(query: string, variables?: Vars) => Promise<T>;
}

/** That tree's control plane on SQLite in `dataDir`, on a free port. */
export async function startReleaseControlPlane(tree: string, dataDir: string): Promise<ReleaseControlPlane> {
  const started = await spawnOutpost(
    ['control-plane', '--database-url', `sqlite:${join(dataDir, 'outpost.db')}`, '--port', '0', '--data-dir', dataDir],
    /control plane at (http:\/\/127\.0\.0\.1:\d+)/,
    { OUTPOST_FROM_SOURCE: '1' },
    undefined,
    releaseCli(tree),
  );
  const url = started.match[1]!;
  const token = readFileSync(join(dataDir, 'user.token'), 'utf8').trim();
  return {
    child: started.child,
    url,
    gql: <T>(query: string, variables: Vars = {}) => graphqlCall<T>(url, '/graphql', token, query, variables),
  };
}
