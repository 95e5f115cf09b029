// What every benchmark reports: the machine, the parameters, the figures, as a markdown
// table on stdout and JSON in bench/results/<name>.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** Target, as text (e.g. "≤ 150 ms"), when the issue sets one. */
  target?: string;
  note?: string;
}

export function machine(): Record<string, unknown> {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    nodeExtraCaCerts: extraCaCerts(),
  };
}

/**
 * NODE_EXTRA_CA_CERTS as every Node process of a run inherits it: Node 20 builds its whole root
 * store (the bundled roots plus the file's) at start-up when it is set, so each process start
 * (`node -e 0`, a run worker, a standby) pays for it. Measured on this host (2 cores, round 15):
 * `node -e 0` 37-43 ms of CPU without it, 74-87 ms with a one-certificate file, 113-130 ms with
 * the system bundle (144 certificates); a noop run worker 117-122 vs 180-214 ms. Runs with and
 * without it do not compare.
 */
function extraCaCerts(): { file: string; certificates: number } | null {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return null;
  let certificates = -1;
  try {
    certificates = readFileSync(file, 'utf8').split('-----BEGIN CERTIFICATE-----').length - 1;
  } catch {
    // Unreadable: Node warns and goes on without it.
  }
  return { file, certificates };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samples: number[]): {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  n: number;
} {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? NaN,
    mean,
    n: s.length,
  };
}

const round = (v: number): string =>
  !Number.isFinite(v)
    ? String(v)
    : Math.abs(v) >= 100
      ? v.toFixed(0)
      : // Small ratios (an ingest at 0.3 % of its floor) keep two significant digits.
        v !== 0 && Math.abs(v) < 0.01
        ? v.toPrecision(2)
        : v.toFixed(2);

export function report(name: string, params: Record<string, unknown>, figures: Figure[]): void {
  const lines = [
    `## ${name}`,
    '',
    `params: ${JSON.stringify(params)}`,
    '',
    '| figure | value | unit | target | note |',
    '| --- | ---: | --- | --- | --- |',
    ...figures.map((f) => `| ${f.name} | ${round(f.value)} | ${f.unit} | ${f.target ?? ''} | ${f.note ?? ''} |`),
    '',
  ];
  console.log(lines.join('\n'));
  const dir = join(import.meta.dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const body = { name, at: new Date().toISOString(), machine: machine(), params, figures };
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(body, null, 2) + '\n');
}

export const isQuick = (argv: string[] = process.argv): boolean => argv.includes('--quick');

/**
 * Runs a benchmark's `main` and exits: with its exit code (0 unless it set one) once it is done,
 * or 1 after printing what threw. The exit is explicit because a bench leaves handles behind (a
 * Temporal runtime, kept-alive sockets) that would hold the process open.
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
