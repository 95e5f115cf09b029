// Draws a DAG as SVG from the pure layout in lib/graph-layout.js: a job's ops, or (through the
// options) a location's assets, where a click selects a node.
import { svg } from '../dom.js';
import { layoutOpGraph, NODE_H, NODE_W } from '../lib/graph-layout.js';

/**
 * @param {Array<{name: string, description?: string, inputs?: Array<{fromOp: string}>, outputs?: string[]}>} ops
 * @param {object} [opts]
 * @param {string} [opts.noun] what a node is, for the accessible label ("op", "asset")
 * @param {(op: object) => string} [opts.meta] the small second line (default: input/output counts)
 * @param {(op: object) => object} [opts.nodeAttrs] extra attributes of a node's <g> (class, data-*)
 * @param {(name: string) => void} [opts.onNodeClick] makes nodes clickable (and keyboard-focusable)
 */
export function opGraph(ops, opts = {}) {
  const { nodes, edges, width, height } = layoutOpGraph(ops);
  const byName = new Map(ops.map((o) => [o.name, o]));
  const noun = opts.noun ?? 'op';
  const meta = opts.meta ?? ((op) => `${(op?.inputs ?? []).length} in · ${(op?.outputs ?? []).length} out`);
  const label = (name) => (name.length > 20 ? `${name.slice(0, 19)}…` : name);
  const click = opts.onNodeClick;
  return svg(
    'svg',
    {
      class: `op-graph op-graph-${noun}`,
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': `${noun === 'op' ? 'Op' : 'Asset'} graph with ${nodes.length} ${noun}s`,
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
      const extra = opts.nodeAttrs?.(op) ?? {};
      const g = svg(
        'g',
        {
          'data-op': n.name,
          ...extra,
          class: `op-node${click ? ' clickable' : ''}${extra.class ? ` ${extra.class}` : ''}`,
          transform: `translate(${n.x},${n.y})`,
          tabindex: click ? 0 : null,
        },
        svg('title', {}, `${n.name}${op?.description ? ` — ${op.description}` : ''}`),
        svg('rect', { width: NODE_W, height: NODE_H, rx: 8 }),
        svg('text', { x: 12, y: 19, class: 'op-name' }, label(n.name)),
        svg('text', { x: 12, y: 34, class: 'op-meta' }, meta(op)),
      );
      if (click) {
        g.addEventListener('click', () => click(n.name));
        g.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            click(n.name);
          }
        });
      }
      return g;
    }),
  );
}
