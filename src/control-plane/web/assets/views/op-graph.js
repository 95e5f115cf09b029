// Draws a job's op graph as SVG from the pure layout in lib/graph-layout.js.
import { svg } from '../dom.js';
import { layoutOpGraph, NODE_H, NODE_W } from '../lib/graph-layout.js';

export function opGraph(ops) {
  const { nodes, edges, width, height } = layoutOpGraph(ops);
  const byName = new Map(ops.map((o) => [o.name, o]));
  const label = (name) => (name.length > 20 ? `${name.slice(0, 19)}…` : name);
  return svg(
    'svg',
    {
      class: 'op-graph',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': `Op graph with ${nodes.length} ops`,
    },
    svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'op-arrow' }),
      ),
    ),
    edges.map((e) =>
      svg('path', { d: e.path, class: 'op-edge', 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }),
    ),
    nodes.map((n) => {
      const op = byName.get(n.name);
      const outs = (op?.outputs ?? []).length;
      return svg(
        'g',
        { class: 'op-node', transform: `translate(${n.x},${n.y})`, 'data-op': n.name },
        svg('title', {}, `${n.name}${op?.description ? ` — ${op.description}` : ''}`),
        svg('rect', { width: NODE_W, height: NODE_H, rx: 8 }),
        svg('text', { x: 12, y: 19, class: 'op-name' }, label(n.name)),
        svg('text', { x: 12, y: 34, class: 'op-meta' }, `${(op?.inputs ?? []).length} in · ${outs} out`),
      );
    }),
  );
}
