// The execution plan of a job or an op subset: steps in dependency order, each with the steps
// it waits for and a topological level (steps on one level may run at the same time). Pure.
import { OutpostError } from '../../shared/errors.js';
import type { JobDef } from '../sdk/definitions.js';

export interface PlanStep {
  key: string;
  dependsOn: string[];
  level: number;
}

/**
 * Plans `selection` (every op when empty). Upstream ops outside the selection are not pulled
 * in: a selected op whose input comes from an unselected op receives `undefined`.
 */
export function executionPlan(jobDef: JobDef, selection: readonly string[] = []): PlanStep[] {
  const all = new Map(jobDef.ops.map((o) => [o.name, o]));
  const unknown = selection.filter((name) => !all.has(name));
  if (unknown.length) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `job ${jobDef.name} has no op ${unknown.map((u) => `"${u}"`).join(', ')} (ops: ${[...all.keys()].join(', ')})`,
    });
  }
  const chosen = new Set(selection.length ? selection : all.keys());
  const deps = new Map<string, string[]>();
  for (const name of chosen) {
    const upstream = Object.values(all.get(name)!.ins).map((u) => u.name);
    deps.set(name, [...new Set(upstream.filter((u) => chosen.has(u)))]);
  }
  // Kahn's algorithm, keeping declaration order inside a level so plans are stable.
  const level = new Map<string, number>();
  const steps: PlanStep[] = [];
  const order = jobDef.ops.map((o) => o.name).filter((n) => chosen.has(n));
  let remaining = order;
  for (let round = 0; remaining.length && round <= order.length; round++) {
    const ready = remaining.filter((n) => deps.get(n)!.every((d) => level.has(d)));
    if (!ready.length) break;
    for (const n of ready) {
      const dependsOn = deps.get(n)!;
      const l = dependsOn.reduce((max, d) => Math.max(max, level.get(d)! + 1), 0);
      level.set(n, l);
      steps.push({ key: n, dependsOn, level: l });
    }
    remaining = remaining.filter((n) => !level.has(n));
  }
  if (remaining.length) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `job ${jobDef.name} has a dependency cycle through ${remaining.join(', ')}`,
    });
  }
  return steps.sort((a, b) => a.level - b.level);
}
