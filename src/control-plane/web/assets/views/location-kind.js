// What kind of code server a location runs (Outpost's SDK or an unmodified Dagster code
// location), as a chip shared by the locations list, the location page and the asset view.
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
