// The SDK is a package (issue 12, item 4): a code location kept outside the repo imports
// `outpost/sdk` through node_modules/outpost (a symlink to this checkout, as `npm link` or a
// file: dependency makes it), type-checks against the SDK's own types with tsc, and loads in a
// real code server, both as a plain child and inside the bubblewrap sandbox the agent uses.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { defaultCliCommand } from '../../../src/agent/launchers/process-launcher.js';
import { bubblewrapIsolation, bubblewrapUsable } from '../../../src/agent/launchers/sandbox.js';
import { CodeServerServiceClient } from '../../../src/gen/outpost/codeserver/v1/code_server.js';
import { SDK_VERSION } from '../../../src/user-code/sdk/sdk-version.js';
import { promiseCalls } from '../../support/code-server-process.js';

const REPO = resolve('.');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const DEFINITIONS = `import { defineLocation, job, op, type OpContext } from 'outpost/sdk';
const rows = op({ name: 'rows' }, (_ctx: OpContext) => [1, 2, 3]);
const total = op({ name: 'total', ins: { rows } }, (_ctx, { rows }) => rows.reduce((a, b) => a + b, 0));
export default defineLocation({ name: 'outside', jobs: [job({ name: 'sum', ops: [rows, total] })] });
`;

// `rows` is number[]: calling a string method on it must fail type-checking.
const MISTYPED = `import { op } from 'outpost/sdk';
const rows = op({ name: 'rows' }, () => [1, 2, 3]);
export const bad = op({ name: 'bad', ins: { rows } }, (_ctx, { rows }) => rows.toUpperCase());
`;

let home: string;
let location: string;

before(() => {
  // tmpdir() is outside the checkout: nothing up the tree is Outpost's package.json.
  home = mkdtempSync(join(tmpdir(), 'outpost-outside-location-'));
  assert.ok(relative(REPO, home).startsWith('..'), `${home} must be outside ${REPO}`);
  location = join(home, 'definitions.ts');
  mkdirSync(join(home, 'node_modules'));
  symlinkSync(REPO, join(home, 'node_modules', 'outpost'), 'dir');
  writeFileSync(join(home, 'package.json'), JSON.stringify({ name: 'outside-location', type: 'module' }));
  writeFileSync(location, DEFINITIONS);
});
after(() => rmSync(home, { recursive: true, force: true }));

function tsc(files: string[]): { status: number | null; output: string } {
  const tsconfig = join(home, `tsconfig.${files.length}.json`);
  writeFileSync(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        allowImportingTsExtensions: true,
        // The SDK's sources use Node's types; the location borrows the checkout's @types.
        typeRoots: [join(REPO, 'node_modules', '@types')],
        types: ['node'],
      },
      files,
    }),
  );
  const r = spawnSync(process.execPath, [TSC, '-p', tsconfig], { cwd: home, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('outpost/sdk from a location outside the repo', () => {
  test('tsc type-checks the location against the SDK types, and rejects a mistyped op', () => {
    const ok = tsc([location]);
    assert.equal(ok.status, 0, ok.output);
    const badFile = join(home, 'mistyped.ts');
    writeFileSync(badFile, MISTYPED);
    const bad = tsc([badFile]);
    assert.notEqual(bad.status, 0, 'a type error in user code must fail tsc');
    assert.match(bad.output, /mistyped\.ts.*toUpperCase.*does not exist on type 'number\[\]'/s);
  });

  test('a real code server loads it', async () => {
    const defs = await loadIn(defaultCliCommand(), (cmd) => cmd);
    assert.deepEqual(defs, { sdkVersion: SDK_VERSION, jobs: [['sum', ['rows', 'total']]] });
  });

  test('a code server inside the bubblewrap sandbox loads it', async (t) => {
    const usable = bubblewrapUsable();
    if (!usable.ok) return t.skip(`bubblewrap not usable here: ${usable.why}`);
    // A hidden directory stands for the agent's data dir, as the agent passes it.
    const hidden = mkdtempSync(join(tmpdir(), 'outpost-hidden-'));
    try {
      const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [hidden] });
      const defs = await loadIn(defaultCliCommand(), (cmd) =>
        isolation.command(cmd, { cwd: home, readable: [home], dieWithParent: true }),
      );
      assert.deepEqual(defs, { sdkVersion: SDK_VERSION, jobs: [['sum', ['rows', 'total']]] });
    } finally {
      rmSync(hidden, { recursive: true, force: true });
    }
  });
});

/** Starts `outpost code-server` on the location (wrapped by `wrap`), returns what it serves. */
async function loadIn(
  cli: string[],
  wrap: (cmd: string[]) => string[],
): Promise<{ sdkVersion: string; jobs: Array<[string, string[]]> }> {
  const [cmd, ...args] = wrap([...cli, 'code-server', '--module', location, '--port', '0']);
  const child = spawn(cmd!, args, {
    cwd: home,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OUTPOST_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const port = await new Promise<number>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no READY line in 60 s; stderr: ${stderr}`)), 60_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /OUTPOST_CODE_SERVER_READY port=(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          res(Number(m[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`code server exited (${code}) before READY; stderr: ${stderr}`));
      });
    });
    const client = new CodeServerServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const call = promiseCalls(client);
      const info = await call.getServerInfo({});
      assert.equal(info.loadError, undefined, info.loadError);
      const defs = await call.getDefinitions({});
      return { sdkVersion: info.sdkVersion, jobs: defs.jobs.map((j) => [j.name, j.ops.map((o) => o.name)]) };
    } finally {
      client.close();
    }
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}
