// Pure layered layout of a job's op graph (no DOM): each op sits one layer right of its
// deepest upstream op, ops in a layer are ordered by their parents' positions to cut
// crossings, and edges are cubic curves from an output side to an input side.

export const NODE_W = 168;
export const NODE_H = 44;
export const GAP_X = 64;
export const GAP_Y = 20;
export const PAD = 16;

/**
 * @param {Array<{name: string, inputs?: Array<{fromOp: string}>}>} ops
 * @returns {{nodes: Array<{name: string, layer: number, row: number, x: number, y: number}>,
 *   edges: Array<{from: string, to: string, path: string}>, width: number, height: number}}
 */
export function layoutOpGraph(ops) {
  const names = new Set(ops.map((o) => o.name));
  const parents = new Map(
    ops.map((o) => [
      o.name,
      [...new Set((o.inputs ?? []).map((i) => i.fromOp))].filter((p) => names.has(p) && p !== o.name),
    ]),
  );

  // Longest-path layering; a cycle (which a valid job never has) is cut at the depth bound.
  const layer = new Map();
  const depth = (name, seen) => {
    if (layer.has(name)) return layer.get(name);
    if (seen.has(name) || seen.size > ops.length) return 0;
    seen.add(name);
    let d = 0;
    for (const p of parents.get(name) ?? []) d = Math.max(d, depth(p, seen) + 1);
    seen.delete(name);
    layer.set(name, d);
    return d;
  };
  for (const o of ops) depth(o.name, new Set());

  const layers = [];
  for (const o of ops) (layers[layer.get(o.name)] ??= []).push(o.name);
  const row = new Map();
  layers.forEach((names, l) => {
    if (l > 0) {
      // Barycenter of parents' rows keeps children next to their parents.
      const bary = (n) => {
        const ps = parents.get(n) ?? [];
        return ps.length ? ps.reduce((s, p) => s + (row.get(p) ?? 0), 0) / ps.length : 0;
      };
      names.sort((a, b) => bary(a) - bary(b) || a.localeCompare(b));
    }
    names.forEach((n, i) => row.set(n, i));
  });

  const tallest = Math.max(1, ...layers.map((l) => l?.length ?? 0));
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
  const nodes = ops.map((o) => {
    const l = layer.get(o.name);
    const count = layers[l].length;
    const offset = ((tallest - count) * (NODE_H + GAP_Y)) / 2; // centre short layers
    const r = row.get(o.name);
    return { name: o.name, layer: l, row: r, x: PAD + l * (NODE_W + GAP_X), y: PAD + offset + r * (NODE_H + GAP_Y) };
  });
  const at = new Map(nodes.map((n) => [n.name, n]));
  const edges = [];
  for (const o of ops) {
    for (const p of parents.get(o.name) ?? []) {
      const a = at.get(p);
      const b = at.get(o.name);
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const mx = (x1 + x2) / 2;
      edges.push({ from: p, to: o.name, path: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` });
    }
  }
  const width = PAD * 2 + Math.max(1, layers.length) * NODE_W + Math.max(0, layers.length - 1) * GAP_X;
  return { nodes, edges, width, height };
}
