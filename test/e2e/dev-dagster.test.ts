// `outpost dev --dagster-python <venv python>` (what `OUTPOST_DAGSTER_PYTHON=… npm start` runs)
// deploys examples/dagster as dagster_example and prints its `try:` line; then every command of
// the README's "Try the Dagster example" block runs as written (read from README.md between its
// markers), against that real system. Skipped, saying why, without a Dagster interpreter.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDevStack, type DevStack } from '../support/dev-stack.js';
import { until } from '../support/wait.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = resolve(ROOT, 'bin', 'outpost.mjs');
const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const skip = python
  ? false
  : (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts, which builds the Dagster venv');
if (skip) console.log(`# skipping outpost dev with the Dagster example: ${skip}`);

/** The README's example commands: `npx outpost …` lines of the marked block, comments dropped. */
export function readmeDagsterCommands(readme: string): string[][] {
  const block = /<!-- dagster-example:start -->\n```sh\n([\s\S]*?)```\n<!-- dagster-example:end -->/.exec(readme);
  if (!block) throw new Error('README.md has no dagster-example block');
  return block[1]!
    .split('\n')
    .filter((l) => l.startsWith('npx outpost '))
    .map((l) => shellWords(l).slice(2));
}

/** Splits a command line as sh would for what the README uses: words, '…' and "$VAR" quoting, # comments. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') {
      // Only "$NAME" is used: the variable's value, as sh expands it.
      const end = line.indexOf('"', i + 1);
      cur = (cur ?? '') + line.slice(i + 1, end).replace(/\$(\w+)/g, (_, v: string) => process.env[v] ?? '');
      i = end;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur = (cur ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ') {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === '#' && cur === undefined) break;
    else cur = (cur ?? '') + c;
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

describe('outpost dev with a Dagster interpreter: the example deployed, the README commands work', { skip }, () => {
  let dev: DevStack;
  before(async () => {
    // The README's lines name the interpreter as $OUTPOST_DAGSTER_PYTHON.
    process.env.OUTPOST_DAGSTER_PYTHON = python;
    dev = await startDevStack(300_000, ['--dagster-python', python!]);
  });
  after(() => dev?.stop());

  // Async (not spawnSync): a blocked event loop would miss the server closing idle keep-alive
  // sockets, and the test's next fetch would fail on a dead one.
  const outpost = async (args: string[]): Promise<{ status: number | null; out: string }> => {
    const child = spawn(process.execPath, [BIN, ...args, '--url', dev.url], {
      env: { ...process.env, OUTPOST_TOKEN: dev.userToken },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    const status = await new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    clearTimeout(timer);
    return { status, out };
  };
  const runStatus = async (id: string): Promise<string> =>
    (await dev.graphql<{ run: { status: string } }>(`query($id: ID!) { run(id: $id) { status } }`, { id })).run.status;

  test('it deploys dagster_example LOADED and prints a try: line for it', async () => {
    // The ready lines follow the sign-in link startDevStack waits for.
    await until('the try: lines', () => (dev.output.some((l) => /press Ctrl-C/.test(l)) ? true : undefined), 30_000);
    const text = dev.output.join('\n');
    assert.match(text, /code location dagster_example: LOADED/, text);
    assert.match(text, /try:\s+npx outpost runs launch greeting_job --location dagster_example --config/);
  });

  test("every command of the README's Dagster block works as written", async () => {
    const commands = readmeDagsterCommands(readFileSync(resolve(ROOT, 'README.md'), 'utf8'));
    assert.ok(commands.length >= 10, `README block: ${commands.length} commands`);
    let lastRun: string | undefined;
    try {
      await runAll();
    } catch (err) {
      console.log(`# outpost dev printed (last 80 lines):\n${dev.output.slice(-80).join('\n')}`);
      throw err;
    }
    async function runAll(): Promise<void> {
      for (const args of commands) {
        const resolved = args.map((a) => (a === '<run-id>' ? lastRun! : a));
        const { status, out } = await outpost(resolved);
        const line = `outpost ${resolved.join(' ')}`;
        assert.equal(status, 0, `${line}\n${out}`);
        const launched = /launched run (\S+)/.exec(out);
        if (launched) lastRun = launched[1];
        // What each one is documented to show.
        if (args[0] === 'locations') assert.match(out, /LOADED \(Dagster \d/, out);
        if (args[1] === 'deploy') assert.match(out, /my_dagster: LOADED/, out);
        if (args[1] === 'launch' && args.includes('greeting_job')) assert.match(out, /hello you/, out);
        if (args.includes('--op')) assert.doesNotMatch(out, /shout/, 'the op left out did not run');
        if (args[0] === 'runs' && args[1] === 'terminate') {
          await until(
            'the slow run CANCELED',
            async () => ((await runStatus(lastRun!)) === 'CANCELED' ? true : undefined),
            60_000,
          ).catch(async (err: Error) => {
            const shown = await outpost(['runs', 'show', lastRun!]);
            throw new Error(`${err.message}\n${shown.out}`);
          });
        }
        if (args.includes('--asset')) assert.match(out, /ASSET_MATERIALIZATION/, out);
        if (args[0] === 'assets')
          assert.match(out, /doubled_numbers[\s\S]*raw_numbers|raw_numbers[\s\S]*doubled_numbers/, out);
        if (args[0] === 'schedules') assert.match(out, /greeting_job/, out);
        if (args[0] === 'sensors' && args[1] === 'test') assert.match(out, /tick-42/, out);
        if (args[0] === 'sensors' && args[1] === 'start') {
          // The daemon ticks at once: the sensor's run appears, tagged with its run key.
          await until(
            'the sensor run',
            async () => {
              const r: { out: string } = await outpost([
                'runs',
                'list',
                '--location',
                'dagster_example',
                '--job',
                'greeting_job',
                '--json',
              ]);
              return r.out.includes('"dagster/run_key": "tick-1"') || r.out.includes('"dagster/run_key":"tick-1"')
                ? true
                : undefined;
            },
            90_000,
          );
        }
        if (args[0] === 'runs' && args[1] === 'list') assert.match(out, /dagster\/run_key/, out);
      }
    }
  });
});
