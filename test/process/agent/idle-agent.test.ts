// An idle `outpost agent` (a real child process with examples/hello deployed, its code server
// up): what it keeps loaded, and what its children inherit. Every module resolution — ES imports
// through a resolve hook, CommonJS require() through Module._load — is recorded to a file per
// process. The agent talks GraphQL as plain JSON over fetch: no GraphQL library may sit in its
// memory (graphql-js alone is ~10 MB of an idle agent's RSS). Its children get
// MALLOC_ARENA_MAX=2 unless the agent's environment sets another value.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { descendants, stopGracefully } from '../../support/process.js';
import { HELLO_MODULE, spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';
import { testTemporal } from '../../support/temporal.js';

const t = await testTemporal();
const dir = mkdtempSync(join(tmpdir(), 'outpost-idle-modules-'));
let stack: Stack;
let agent: ChildProcess | undefined;
let second: ChildProcess | undefined;

/** A module for --import that records every resolved module to <dir>/<pid>.log. */
function recorder(): string {
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) {
  const r = await next(s, c);
  appendFileSync(${JSON.stringify(dir)} + '/' + process.pid + '.log', r.url + '\\n');
  return r;
}`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const load = Module._load;
Module._load = function (request, parent, isMain) {
  try {
    appendFileSync(${JSON.stringify(dir)} + '/' + process.pid + '.log', Module._resolveFilename(request, parent, isMain) + '\\n');
  } catch {}
  return load.apply(this, arguments);
};`,
  );
  return pathToFileURL(register).href;
}

before(async () => {
  stack = await startStack({ temporalAddress: t.address });
});
after(async () => {
  await stopGracefully(agent);
  await stopGracefully(second);
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an idle agent has loaded no GraphQL library', async () => {
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --import=${recorder()}`.trim();
  agent = await spawnAgentProcess(stack, ['--warm-run-workers', '0'], {
    env: { NODE_OPTIONS: nodeOptions, MALLOC_ARENA_MAX: undefined },
  });
  await stack.deploy('hello', HELLO_MODULE);
  assert.equal((await stack.locationStatus('hello')).status, 'LOADED');
  const log = join(dir, `${agent.pid}.log`);
  assert.ok(existsSync(log), 'the recorder saw the agent');
  const modules = readFileSync(log, 'utf8').split('\n');
  // The recorder works: the agent's own modules and Temporal's worker are in the list.
  assert.ok(
    modules.some((m) => /\/agent\/control-plane-client\.(ts|js)$/.test(m)),
    'the agent client was recorded',
  );
  assert.ok(
    modules.some((m) => m.includes('/node_modules/@temporalio/worker/')),
    'the Temporal worker was recorded',
  );
  const graphql = [...new Set(modules.filter((m) => /\/node_modules\/(graphql|graphql-request)\//.test(m)))];
  assert.deepEqual(graphql, [], 'the agent loaded a GraphQL library');
});

/** MALLOC_ARENA_MAX in the environment of the code server under `parent`, once it is up. */
async function codeServerArenas(parent: number): Promise<string | undefined> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const pid of descendants(parent)) {
      let cmd: string[];
      let env: string[];
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (!cmd.includes('code-server') || !/node$/.test(cmd[0] ?? '')) continue;
      return env.find((e) => e.startsWith('MALLOC_ARENA_MAX='))?.slice('MALLOC_ARENA_MAX='.length);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no code server under ${parent}`);
}

test("the agent's children get MALLOC_ARENA_MAX=2 unless its environment sets it", async () => {
  assert.ok(agent?.pid, 'the first test started an agent without MALLOC_ARENA_MAX');
  assert.ok(!readFileSync(`/proc/${agent.pid}/environ`, 'utf8').includes('MALLOC_ARENA_MAX='));
  assert.equal(await codeServerArenas(agent.pid), '2');
  second = await spawnAgentProcess(stack, ['--warm-run-workers', '0'], {
    dataDir: join(dir, 'second'),
    env: { MALLOC_ARENA_MAX: '4' },
  });
  assert.equal(await codeServerArenas(second.pid!), '4');
});
