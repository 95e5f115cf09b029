// The launch form's partition key: a select when the location's snapshot lists the whole set;
// for a large set (the snapshot lists its first keys and counts the rest) a text field whose
// suggestions are searched in the location as you type, one bounded page at a time.
/* global setTimeout, clearTimeout */
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
  const list = h('datalist', { id: 'partition-keys' }, options(keys.slice(0, SUGGESTIONS)));
  input.setAttribute('list', 'partition-keys');
  const status = h('span', { id: 'partition-search-status' }, '');
  const hint = h(
    'p',
    { class: 'muted small', id: 'partition-hint' },
    `${set.keyCount.toLocaleString()} keys: type part of one to search them. `,
    status,
    list,
  );
  if (!can('queryCodeLocation')) return { input, hint };
  let timer;
  let asked = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void search(input.value.trim(), ++asked), SEARCH_DELAY_MS);
  });
  async function search(text, n) {
    if (!text) {
      list.replaceChildren(...options(keys.slice(0, SUGGESTIONS)));
      status.textContent = '';
      return;
    }
    try {
      const { queryCodeLocation: item } = await gql(SEARCH_PARTITION_KEYS, {
        input: { location, job: job.name, query: 'PARTITION_NAMES', search: text, first: SUGGESTIONS },
      });
      if (n !== asked) return; // a later keystroke's search answers instead
      const page = item.status === 'COMPLETED' ? item.result?.answer : undefined;
      if (!page || !Array.isArray(page.keys)) {
        status.textContent = item.error ? `Search failed: ${item.error.message}` : 'No answer from an agent yet.';
        return;
      }
      list.replaceChildren(...options(page.keys));
      status.textContent = page.searchedPage
        ? `${page.keys.length} shown (this agent searches only the first page: upgrade it to search all keys).`
        : `${page.total.toLocaleString()} match${page.total === 1 ? '' : 'es'}${page.total > page.keys.length ? `, first ${page.keys.length} shown` : ''}.`;
    } catch (err) {
      if (n === asked) status.textContent = `Search failed: ${err.message}`;
    }
  }
  return { input, hint };
}

const options = (keys) => keys.map((k) => h('option', { value: k }));
