// The launch form's partition key: a select when the location's snapshot lists the whole set;
// for a large set (the snapshot lists its first keys and counts the rest) a text field with a
// list of suggestions under it, searched as you type (the partitionKeys query: the server
// answers from its snapshot, a recent search or the location). The suggestions are the page's
// own list, not a <datalist>: a browser draws and filters a datalist by its own rules, outside
// the page, so what the search found was not shown in the page nor could be clicked there.
/* global setTimeout, clearTimeout, document */
import { gql } from '../api.js';
import { h } from '../dom.js';
import { SEARCH_PARTITION_KEYS } from '../queries.js';
import { can } from '../roles.js';

/** Suggestions per search (the server's page limit is 1,000). */
const SUGGESTIONS = 50;
/** Quiet time after a keystroke before searching. */
const SEARCH_DELAY_MS = 250;

/** `{ input, hint }` for a partitioned job (`input.value` is the key), or null for an unpartitioned one. */
export function partitionPicker(location, job, set) {
  if (!job.partitions) return null;
  const keys = set?.keys ?? [];
  const complete = set?.keyCount == null || set.keyCount <= keys.length;
  if (keys.length && complete) {
    const select = h(
      'select',
      { id: 'partition-key', 'aria-label': 'Partition' },
      keys.map((k) => h('option', { value: k }, k)),
    );
    return { input: select, hint: null };
  }
  const input = h('input', {
    id: 'partition-key',
    type: 'text',
    placeholder: 'partition key',
    'aria-label': 'Partition',
    autocomplete: 'off',
  });
  if (!keys.length) return { input, hint: null };
  const list = h('ul', { id: 'partition-suggestions', class: 'suggestions', role: 'listbox', hidden: true });
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-controls', 'partition-suggestions');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  const status = h('span', { id: 'partition-search-status', 'aria-live': 'polite' }, '');
  // The count and the search's outcome stay readable above the open list.
  const hint = h(
    'div',
    {},
    h(
      'p',
      { class: 'muted small', id: 'partition-hint' },
      `${set.keyCount.toLocaleString()} keys: type part of one to search them, then pick it. `,
      status,
    ),
    list,
  );
  let shown = [];
  let active = -1;
  function show(found) {
    shown = found;
    active = -1;
    list.replaceChildren(
      ...found.map((k, i) =>
        h(
          'li',
          {
            role: 'option',
            id: `partition-option-${i}`,
            'data-key': k,
            'aria-selected': 'false',
            // mousedown, before the input's blur hides the list.
            onmousedown: (ev) => {
              ev.preventDefault();
              pick(k);
            },
          },
          k,
        ),
      ),
    );
    open(found.length > 0 && document.activeElement === input);
  }
  function open(yes) {
    list.hidden = !yes;
    input.setAttribute('aria-expanded', String(yes));
  }
  function mark(i) {
    active = i;
    for (const [j, li] of [...list.children].entries()) li.setAttribute('aria-selected', String(j === i));
    const li = list.children[i];
    if (li) {
      input.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    } else input.removeAttribute('aria-activedescendant');
  }
  function pick(k) {
    input.value = k;
    open(false);
    status.textContent = `Picked ${k}.`;
  }
  show(keys.slice(0, SUGGESTIONS));
  input.addEventListener('focus', () => open(shown.length > 0));
  input.addEventListener('blur', () => open(false));
  input.addEventListener('keydown', (ev) => {
    if (list.hidden && ev.key !== 'ArrowDown') return;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      open(shown.length > 0);
      const step = ev.key === 'ArrowDown' ? 1 : -1;
      mark(Math.max(0, Math.min(shown.length - 1, active + step)));
    } else if (ev.key === 'Enter' && active >= 0) {
      // Picks the marked key instead of submitting the form.
      ev.preventDefault();
      pick(shown[active]);
    } else if (ev.key === 'Escape') {
      open(false);
    }
  });
  if (!can('partitionKeys')) return { input, hint };
  let timer;
  let asked = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const n = ++asked;
    timer = setTimeout(() => void search(input.value.trim(), n), SEARCH_DELAY_MS);
  });
  async function search(text, n) {
    if (!text) {
      show(keys.slice(0, SUGGESTIONS));
      status.textContent = '';
      return;
    }
    status.textContent = 'Searching…';
    try {
      const { partitionKeys: page } = await gql(SEARCH_PARTITION_KEYS, {
        location,
        job: job.name,
        search: text,
        first: SUGGESTIONS,
      });
      if (n !== asked) return; // a later keystroke's search answers instead
      show(page.keys);
      status.textContent = page.searchedPage
        ? `${page.keys.length} shown (this agent searches only the first page: upgrade it to search all keys).`
        : page.total === 0
          ? `No key contains "${text}".`
          : `${page.total.toLocaleString()} match${page.total === 1 ? '' : 'es'}${page.total > page.keys.length ? `, first ${page.keys.length} shown` : ''}.`;
    } catch (err) {
      if (n === asked) status.textContent = `Search failed: ${err.message}`;
    }
  }
  return { input, hint };
}
