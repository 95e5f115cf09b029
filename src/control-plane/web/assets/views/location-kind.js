// What kind of code server a location runs (Outpost's SDK or an unmodified Dagster code
// location), as a chip shared by the locations list, the location page and the asset view, and
// the note those pages show when the definitions are a failed version's predecessor's.
import { h } from '../dom.js';

/** An OUTPOST / DAGSTER chip, with the Dagster version beside it when the location reports one. */
export function kindChip(l) {
  const kind = l.kind ?? 'OUTPOST';
  return h(
    'span',
    {
      class: `pill pill-kind pill-kind-${kind.toLowerCase()}`,
      'data-kind': kind,
      title:
        kind === 'DAGSTER' ? 'An unmodified Dagster code location' : 'A code location written with the Outpost SDK',
    },
    kind,
    kind === 'DAGSTER' && l.dagsterVersion ? h('span', { class: 'kind-version' }, ` ${l.dagsterVersion}`) : null,
  );
}

/**
 * A location in ERROR keeps the definitions of its last good load (the store replaces them only
 * with a new snapshot): say so, or the page reads as if the broken code defined them.
 */
export function staleNote(l) {
  const shown = (l.jobs?.length ?? 0) + (l.assets?.length ?? 0);
  if (l.status !== 'ERROR' || !shown) return null;
  return h(
    'div',
    { class: 'notice-box', id: 'stale-definitions' },
    `Showing the last definitions that loaded: version ${l.version} failed to load (see the load error), `,
    'so they may no longer match the code, and runs cannot be launched until a version loads. Fix the code and reload.',
  );
}
