// Summarizes a V8 .cpuprofile (from bench/support/cpu-profile.mjs or node:inspector): busy time
// (all samples but "(idle)"), GC, the top functions by self time, and inclusive time per area
// (an npm package, node: internals, or a repository folder), each as a share of busy time.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  gcMs: number;
  /** [function, ms, share of busy] */
  topSelf: Array<[string, number, number]>;
  topAreas: Array<[string, number, number]>;
}

/** The area a script belongs to: the npm package, `node:` internals, or the repo's top two folders. */
export function areaOf(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node:internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/main\/((?:src|bench|activities|workflows|test)\/[^/]+(?:\/[^/]+)?)/.exec(url);
  return m ? m[1]!.replace(/\.ts$/, '') : url.replace(/^file:\/\//, '');
}

const shortUrl = (url: string): string =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/main\//, '');

export function summarizeProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]!)!;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') continue;
    busy += ms;
    if (fn === '(garbage collector)') gc += ms;
    const key = `${fn || '(anonymous)'} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + ms);
    const seen = new Set<string>();
    // Bounded by the tree depth: walk up to the root once per sample.
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const a = areaOf(byId.get(id)!.callFrame.url);
      if (a === '(native)' && id !== node.id) continue;
      seen.add(a);
    }
    for (const a of seen) areas.set(a, (areas.get(a) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>): Array<[string, number, number]> =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [k, v, busy ? v / busy : 0]);
  return {
    windowMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy,
    gcMs: gc,
    topSelf: rank(self),
    topAreas: rank(areas),
  };
}

export function summarizeProfileFile(path: string, top?: number): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}

/** Markdown lines for one process's summary. */
export function formatSummary(name: string, s: ProfileSummary): string[] {
  const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
  return [
    `### ${name}: busy ${s.busyMs.toFixed(0)} ms of ${s.windowMs.toFixed(0)} ms (${pct(s.busyMs / s.windowMs)}), GC ${pct(s.gcMs / (s.busyMs || 1))} of busy`,
    '',
    'self time:',
    ...s.topSelf.map(([k, ms, share]) => `- ${pct(share)} ${ms.toFixed(0)} ms ${k}`),
    '',
    'inclusive, by area:',
    ...s.topAreas.map(([k, ms, share]) => `- ${pct(share)} ${ms.toFixed(0)} ms ${k}`),
    '',
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of process.argv.slice(2)) console.log(formatSummary(f, summarizeProfileFile(f)).join('\n'));
}
