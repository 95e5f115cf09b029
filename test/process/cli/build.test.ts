// The compiled build (scripts/build.mjs) of this tree, into a throwaway directory beside dist/:
// what the compiled CLI finds at run time (schemas, web assets, the install root the sandbox
// protects), which processes it spawns (compiled, never tsx for its own code), and the module
// graph of a client command, recorded by a resolve hook: no Temporal, store, server or zod.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { cliNodeArgs, defaultCliCommand } from '../../../src/shared/cli-command.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
let out: string;

before(() => {
  // Inside the install so the compiled modules resolve node_modules as dist/ does.
  out = mkdtempSync(join(ROOT, '.build-test-'));
  const res = spawnSync(process.execPath, ['scripts/build.mjs', '--out', out, '--no-workflow-bundle'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(res.status, 0, res.stderr);
});
after(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Runs Node with `code` as an ES module whose imports are resolved from the build. */
function nodeEval(code: string): string {
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(res.status, 0, res.stderr);
  return res.stdout.trim();
}

/** A `--import` that records every module URL the process resolves into `log`, in order. */
function recorder(log: string): string {
  const hooks = join(out, `record-hooks-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`,
  );
  return `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`;
}

/**
 * A TypeScript location (tsx needed) in `<out>/<dir>/definitions.ts` importing the build's own
 * SDK (the package's `outpost/sdk` export would name the install's dist/, which this throwaway
 * build is not); `body` follows the SDK import.
 */
function writeLocation(dir: string, body: string): string {
  const module = join(out, dir, 'definitions.ts');
  mkdirSync(dirname(module));
  const sdk = pathToFileURL(join(out, 'src/user-code/sdk/index.js')).href;
  writeFileSync(module, `import { defineLocation, job, op } from ${JSON.stringify(sdk)};\n${body}`);
  return module;
}

describe('compiled build', () => {
  test('run-time files are found from the build, and paths outside the trees still reach the install', () => {
    for (const f of [
      'src/cli/main.js',
      'src/cli/main.js.map',
      'src/control-plane/graphql/user.graphql',
      'src/control-plane/graphql/agent.graphql',
      'src/control-plane/web/assets/app.js',
      'src/agent/heartbeat-thread.mjs',
    ]) {
      assert.ok(existsSync(join(out, f)), `${f} missing from the build`);
    }
    // The sandbox's install root and the Dagster capture path: the repo, not the build.
    const sandbox = pathToFileURL(join(out, 'src/agent/launchers/sandbox.js')).href;
    const rel = /OUTPOST_ROOT = resolve\(fileURLToPath\(new URL\("([^"]+)"/.exec(
      readFileSync(new URL(sandbox), 'utf8'),
    )?.[1];
    assert.ok(rel, 'OUTPOST_ROOT literal not found');
    assert.equal(resolve(fileURLToPath(new URL(rel, sandbox))), ROOT);
    // Into the compiled trees: the compiled twin.
    const root = pathToFileURL(join(out, 'src/cli/agent-root.js')).href;
    assert.equal(
      nodeEval(`import { WORKFLOWS_PATH } from ${JSON.stringify(root)}; console.log(WORKFLOWS_PATH)`),
      join(out, 'workflows/index.js'),
    );
    // The example `outpost dev --dagster-python` deploys (what `npm start` runs, compiled).
    const dev = pathToFileURL(join(out, 'src/cli/commands/dev.js')).href;
    assert.equal(
      nodeEval(`import { DAGSTER_EXAMPLE } from ${JSON.stringify(dev)}; console.log(DAGSTER_EXAMPLE.dir)`),
      join(ROOT, 'examples/dagster'),
    );
  });

  test('compiled, Outpost spawns compiled processes; from source (this test, under tsx) it spawns tsx', () => {
    const mod = pathToFileURL(join(out, 'src/shared/cli-command.js')).href;
    const [own, user] = JSON.parse(
      nodeEval(
        `import * as c from ${JSON.stringify(mod)}; console.log(JSON.stringify([c.cliNodeArgs(), c.defaultCliCommand()]))`,
      ),
    ) as [string[], string[]];
    assert.deepEqual(own, [join(out, 'src/cli/main.js')]);
    // User-code processes: our modules compiled, tsx only for the user's TypeScript (registered
    // when the location is loaded, not preloaded), the SDK from the build.
    assert.equal(user.at(-1), join(out, 'src/cli/user-code-main.js'));
    assert.ok(user.includes('--conditions=outpost-compiled'), user.join(' '));
    assert.ok(!user.some((a) => a.includes('tsx')), user.join(' '));
    assert.equal(cliNodeArgs().at(-1), join(ROOT, 'src/cli/main.ts'));
    assert.ok(cliNodeArgs().some((a) => a.includes('tsx')));
    assert.equal(defaultCliCommand().at(-1), join(ROOT, 'src/cli/main.ts'));
  });

  test('a compiled run worker loads its own modules natively, then tsx for the TypeScript location', () => {
    const log = join(out, 'worker-resolved.log');
    const spool = mkdtempSync(join(out, 'spool-'));
    const register = recorder(log);
    const cli = pathToFileURL(join(out, 'src/shared/cli-command.js')).href;
    const [node, ...args] = JSON.parse(
      nodeEval(`import * as c from ${JSON.stringify(cli)}; console.log(JSON.stringify(c.defaultCliCommand()))`),
    ) as string[];
    const module = writeLocation(
      'location',
      `const answer: number = 42;
export default defineLocation({ jobs: [job({ name: 'noop', ops: [op({ name: 'nothing' }, () => answer)] })] });
`,
    );
    const res = spawnSync(
      node!,
      [
        '--import',
        register,
        ...args,
        'api',
        'execute-run',
        '--run-id',
        'r1',
        '--module',
        module,
        '--job',
        'noop',
      ].concat(['--spool-dir', spool]),
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(res.status, 0, res.stderr);
    const events = readFileSync(join(spool, 'events.jsonl'), 'utf8');
    assert.match(events, /"RUN_SUCCESS"/);
    const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const firstTsx = urls.findIndex((u) => u.includes('/node_modules/tsx/'));
    const worker = urls.findIndex((u) => u === pathToFileURL(join(out, 'src/cli/user-code-main.js')).href);
    assert.ok(worker >= 0 && firstTsx > worker, `tsx (${firstTsx}) after the worker's own modules (${worker})`);
    // The worker's own modules are one file and the SDK another (the build bundles both): of the
    // build it resolves those, the error registry they share and the op logger the SDK's
    // bundle leaves to its own file. The location and tsx's loader files are not the build's.
    const fromBuild = new Set(
      urls.filter((u) => u.startsWith(pathToFileURL(out).href + '/') && u !== pathToFileURL(module).href),
    );
    assert.deepEqual(
      [...fromBuild].sort(),
      [
        'src/cli/user-code-main.js',
        'src/shared/errors.js',
        'src/user-code/sdk/index.js',
        'src/user-code/sdk/op-context.js',
      ]
        .map((f) => pathToFileURL(join(out, f)).href)
        .sort(),
    );
    assert.ok(urls.includes(pathToFileURL(module).href), 'the location was imported');
    // Neither the worker nor the SDK needs zod (~60 modules, a third of a boot's CPU): a location
    // that does not import it never loads it (the run-event schemas the agent checks with, on
    // zod v3, are not the worker's; the JSON Schema of a zod config is the code server's to make).
    const zod = urls.filter((u) => u.includes('/node_modules/zod/'));
    assert.deepEqual(zod, [], 'the run worker loaded zod');
    // The agent's own argv form starts the worker without the CLI's option parser.
    const commander = urls.filter((u) => u.includes('/node_modules/commander/'));
    assert.deepEqual(commander, [], 'the run worker loaded commander');
  });

  test("the SDK's errors are the worker's: a definition error keeps its code in the run's failure", () => {
    // The SDK and the worker are bundled apart: they must still share one OutpostError, or the
    // worker would report the SDK's INVALID_ARGUMENT as a plain load failure.
    const spool = mkdtempSync(join(out, 'spool-'));
    const module = writeLocation(
      'location-invalid',
      `const nothing = op({ name: 'nothing' }, () => undefined);
export default defineLocation({ jobs: [job({ name: 'twin', ops: [nothing] }), job({ name: 'twin', ops: [nothing] })] });
`,
    );
    const cli = pathToFileURL(join(out, 'src/shared/cli-command.js')).href;
    const [node, ...args] = JSON.parse(
      nodeEval(`import * as c from ${JSON.stringify(cli)}; console.log(JSON.stringify(c.defaultCliCommand()))`),
    ) as string[];
    const argv = [...args, 'api', 'execute-run', '--run-id', 'r1', '--module', module, '--job', 'twin'];
    const res = spawnSync(node!, [...argv, '--spool-dir', spool], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(res.status, 1, res.stderr);
    const events = readFileSync(join(spool, 'events.jsonl'), 'utf8').split('\n').filter(Boolean);
    const last = JSON.parse(events.at(-1)!) as { type: string; data?: { code?: string } };
    assert.equal(last.type, 'RUN_FAILURE');
    assert.equal(last.data?.code, 'OUTPOST_ERR_INVALID_ARGUMENT', events.at(-1));
  });

  test('a client command loads neither Temporal, the store, the server nor the agent', () => {
    const log = join(out, 'resolved.log');
    const register = recorder(log);
    for (const args of [
      ['runs', 'list', '--url', 'http://127.0.0.1:9'],
      ['locations', 'list', '--url', 'http://127.0.0.1:9'],
      ['runs', 'list', '--help'],
    ]) {
      rmSync(log, { force: true });
      const res = spawnSync(process.execPath, ['--import', register, join(out, 'src/cli/main.js'), ...args], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, OUTPOST_TOKEN: 'x' },
      });
      assert.notEqual(res.status, null, `outpost ${args.join(' ')} did not exit`);
      const urls = readFileSync(log, 'utf8').split('\n');
      // The hook sees the command run: its own module was resolved.
      assert.ok(
        urls.some((u) => u.endsWith(`/commands/${args[0]}.js`)),
        urls.join('\n'),
      );
      const heavy = urls.filter((u) =>
        /node_modules\/(@temporalio|kysely|better-sqlite3|graphql|graphql-yoga|graphql-request|pg|pino)\/|\/src\/(control-plane|agent)\/|tsx/.test(
          u,
        ),
      );
      assert.deepEqual(heavy, [], `outpost ${args.join(' ')} loaded heavy modules`);
      // Nor a schema library, and its option parser is the build's one file (src/cli/commander.ts):
      // zod's ~60 modules and commander's CommonJS files were a third of a client command's CPU.
      const packages = urls.filter((u) => /node_modules\/(zod|commander)\//.test(u));
      assert.deepEqual(packages, [], `outpost ${args.join(' ')} loaded zod or commander's own files`);
      assert.ok(urls.includes(pathToFileURL(join(out, 'src/cli/commander.js')).href), urls.join('\n'));
    }
  });
});
