// `outpost runs list` as a user runs it: the `outpost` bin (the compiled build, `npm run build`,
// rebuilt first if stale) against a running control plane holding some finished runs; wall time
// and peak RSS per call from /usr/bin/time, interleaved with `node -e 0` (the floor, same run)
// and a few calls of the same command from source through tsx (OUTPOST_FROM_SOURCE=1: before).
// When the host sets NODE_EXTRA_CA_CERTS, Node builds its whole certificate store at every start
// (with a 144-certificate bundle: `node -e 0` 37-43 -> 113-130 ms of CPU), so the command and its
// floor are also timed without it, interleaved.
//   npx tsx bench/cli.ts [--quick]
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HELLO_MODULE, startBenchSystem } from './support/stack.js';
import { isQuick, report, summarize, type Figure } from './support/report.js';

const quick = isQuick();
const RUNS = quick ? 5 : 20;
const SAMPLES = quick ? 10 : 30;
const SOURCE_SAMPLES = quick ? 3 : 5;
const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'outpost.mjs');

interface Sample {
  wallMs: number;
  rssMiB: number;
}

const run = promisify(execFile);

/**
 * One call under /usr/bin/time: wall (ours, around the spawn) and the child's peak RSS. Async:
 * the control plane answering it runs in this process.
 */
async function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  const t0 = process.hrtime.bigint();
  const res = await run('/usr/bin/time', ['-f', 'OUTPOST_BENCH_RSS_KB=%M', ...argv], { env, encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const kb = /OUTPOST_BENCH_RSS_KB=(\d+)/.exec(res.stderr)?.[1];
  return { wallMs, rssMiB: Number(kb) / 1024 };
}

async function main(): Promise<void> {
  // What `npm start` does first: a fresh build.
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-build.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the build failed');

  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-cli-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  try {
    const { stack } = system;
    console.error('cli bench: starting an agent, deploying hello...');
    await stack.startAgent();
    await stack.deploy('hello', HELLO_MODULE);
    console.error(`cli bench: ${RUNS} noop runs...`);
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i++) ids.push(await stack.launch('noop'));
    for (const id of ids) await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    const token = await stack.cp.issueToken('user', 'bench-cli');
    const env: NodeJS.ProcessEnv = { ...process.env, OUTPOST_TOKEN: token };
    const cmd = [process.execPath, BIN, 'runs', 'list', '--url', stack.cp.url];

    // The listing is checked once: every run is there.
    const out = await run(process.execPath, [BIN, 'runs', 'list', '--url', stack.cp.url, '--json'], {
      env,
      encoding: 'utf8',
    });
    const listed = (JSON.parse(out.stdout) as { id: string }[]).map((r) => r.id);
    if (!ids.every((id) => listed.includes(id))) throw new Error(`runs list missed runs: ${out.stdout}`);

    console.error(`cli bench: ${SAMPLES} calls of runs list...`);
    const cli: Sample[] = [];
    const floor: Sample[] = [];
    const source: Sample[] = [];
    const { NODE_EXTRA_CA_CERTS: extraCerts, ...bareEnv } = env;
    const bare: Sample[] = [];
    const bareFloor: Sample[] = [];
    await timed(cmd, env); // warm the page cache once, for both
    await timed([process.execPath, '-e', '0'], env);
    for (let i = 0; i < SAMPLES; i++) {
      cli.push(await timed(cmd, env));
      floor.push(await timed([process.execPath, '-e', '0'], env));
      if (i < SOURCE_SAMPLES) source.push(await timed(cmd, { ...env, OUTPOST_FROM_SOURCE: '1' }));
      if (extraCerts) {
        bare.push(await timed(cmd, bareEnv));
        bareFloor.push(await timed([process.execPath, '-e', '0'], bareEnv));
      }
    }
    const s = (xs: Sample[], k: keyof Sample) => summarize(xs.map((x) => x[k]));
    const [cliWall, floorWall, srcWall] = [s(cli, 'wallMs'), s(floor, 'wallMs'), s(source, 'wallMs')];
    const [cliRss, floorRss, srcRss] = [s(cli, 'rssMiB'), s(floor, 'rssMiB'), s(source, 'rssMiB')];
    const figures: Figure[] = [
      { name: 'runs list wall p50 (compiled)', value: cliWall.p50, unit: 'ms', target: '≤ 250 ms' },
      { name: 'runs list wall p90 (compiled)', value: cliWall.p90, unit: 'ms' },
      { name: 'node -e 0 wall p50 (floor)', value: floorWall.p50, unit: 'ms' },
      { name: 'runs list / node -e 0 (wall p50)', value: cliWall.p50 / floorWall.p50, unit: '×', target: '≤ 4×' },
      { name: 'runs list peak RSS p50 (compiled)', value: cliRss.p50, unit: 'MiB' },
      { name: 'node -e 0 peak RSS p50', value: floorRss.p50, unit: 'MiB' },
      { name: 'runs list wall p50 (from source, tsx)', value: srcWall.p50, unit: 'ms', note: 'before: 3.5 s' },
      { name: 'runs list peak RSS p50 (from source, tsx)', value: srcRss.p50, unit: 'MiB', note: 'before: 277 MiB' },
    ];
    if (extraCerts) {
      const [bareWall, bareFloorWall] = [s(bare, 'wallMs'), s(bareFloor, 'wallMs')];
      const note = `NODE_EXTRA_CA_CERTS=${extraCerts} unset for these calls (set by this host for the others)`;
      figures.push(
        { name: 'runs list wall p50 (compiled, without NODE_EXTRA_CA_CERTS)', value: bareWall.p50, unit: 'ms', note },
        { name: 'node -e 0 wall p50 (without NODE_EXTRA_CA_CERTS)', value: bareFloorWall.p50, unit: 'ms', note },
        {
          name: 'runs list / node -e 0 (wall p50, without NODE_EXTRA_CA_CERTS)',
          value: bareWall.p50 / bareFloorWall.p50,
          unit: '×',
        },
      );
    }
    report('cli', { quick, runs: RUNS, samples: SAMPLES, sourceSamples: SOURCE_SAMPLES }, figures);
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
