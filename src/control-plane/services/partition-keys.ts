// The partitionKeys query: one page of a partitioned job's keys matching a search, at the least
// cost that answers it. The web UI's launch form asks it as you type, so each keystroke must not
// be a work item, a Temporal workflow and an agent's round trip to its code server:
//  1. a set the stored snapshot lists whole is searched here;
//  2. a search answered recently for the same location version is answered again from memory,
//     as is a longer search whose shorter prefix search came back complete (typing narrows);
//  3. else the location is asked (queryCodeLocation's PARTITION_NAMES), and identical searches
//     in flight share that one question.
// A search changes nothing, so it is a query (no audit row); each one that may reach an agent
// takes a unit of the token's request rate, like a mutation.
import { OutpostError } from '../../shared/errors.js';
import { listsAllKeys } from '../../shared/location-snapshot.js';
import {
  MAX_PARTITION_NAMES_PAGE,
  MAX_PARTITION_SEARCH_LENGTH,
  partitionNamesPage,
  type PartitionNamesPage,
} from '../../shared/work-items.js';
import { requireLocation } from '../store/locations.js';
import type { Store } from '../store/store.js';
import { itemError, noAnswer, queryCodeLocation } from './query-location.js';

/** Searches remembered per control-plane process (the oldest go first). */
export const PARTITION_SEARCH_CACHE_ENTRIES = 500;
/**
 * And at most this many characters of keys in all (a page of long keys may be MBs: 500 such
 * pages would hold the process's memory); the oldest go first.
 */
export const PARTITION_SEARCH_CACHE_KEY_CHARS = 8_000_000;
/** How long a remembered search answers again: a dynamic set may gain keys meanwhile. */
export const PARTITION_SEARCH_CACHE_MS = 60_000;

export interface PartitionKeysRequest {
  location: string;
  job: string;
  search?: string | undefined;
  offset?: number | undefined;
  first?: number | undefined;
}

export interface PartitionKeysAnswer extends PartitionNamesPage {
  /** Where the page came from: the stored snapshot, a recent answer, or the location itself. */
  source: 'SNAPSHOT' | 'CACHE' | 'LOCATION';
  /** An agent from before search filtered only its first page (query-location.ts searchedHere). */
  searchedPage?: boolean;
}

interface Remembered {
  page: PartitionKeysAnswer;
  at: number;
  chars: number;
}

/** A question in flight, shared by every caller of its search until the last one leaves. */
interface Asking {
  answer: Promise<PartitionKeysAnswer>;
  callers: number;
  /** Ends the question's wait: aborted when its last caller left. */
  stop: AbortController;
}

/** Recent searches and those in flight, per control-plane process. */
export class PartitionSearchCache {
  private readonly answers = new Map<string, Remembered>();
  private readonly inFlight = new Map<string, Asking>();
  private keyChars = 0;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeyChars = PARTITION_SEARCH_CACHE_KEY_CHARS,
  ) {}

  /** Characters of keys remembered now (what maxKeyChars bounds). */
  get rememberedKeyChars(): number {
    return this.keyChars;
  }

  get size(): number {
    return this.answers.size;
  }

  get(key: string): PartitionKeysAnswer | undefined {
    const hit = this.answers.get(key);
    if (!hit) return undefined;
    if (this.now() - hit.at > PARTITION_SEARCH_CACHE_MS) {
      this.forget(key);
      return undefined;
    }
    return hit.page;
  }

  /**
   * A complete answer (all matches on one page) to a shorter search that `search` contains: its
   * keys hold every match of `search` too. Keys are `scope` + search, so this walks this scope's.
   */
  narrowing(scope: string, search: string): PartitionKeysAnswer | undefined {
    for (const [key, hit] of this.answers) {
      if (!key.startsWith(scope) || this.now() - hit.at > PARTITION_SEARCH_CACHE_MS) continue;
      const p = hit.page;
      const complete = p.offset === 0 && p.keys.length === p.total && !p.searchedPage;
      if (complete && search.toLowerCase().includes((p.search ?? '').toLowerCase())) return p;
    }
    return undefined;
  }

  set(key: string, page: PartitionKeysAnswer): void {
    this.forget(key);
    const chars = page.keys.reduce((n, k) => n + k.length, 0);
    // A page larger than the whole bound is answered, not remembered.
    if (chars > this.maxKeyChars) return;
    while (
      this.answers.size > 0 &&
      (this.answers.size >= PARTITION_SEARCH_CACHE_ENTRIES || this.keyChars + chars > this.maxKeyChars)
    ) {
      this.forget(this.answers.keys().next().value as string);
    }
    this.answers.set(key, { page, at: this.now(), chars });
    this.keyChars += chars;
  }

  private forget(key: string): void {
    const hit = this.answers.get(key);
    if (!hit) return;
    this.answers.delete(key);
    this.keyChars -= hit.chars;
  }

  /**
   * `ask(signal)` once for concurrent callers of the same key. The question waits for its
   * answer until its last caller left (`signal` aborts then), not on any one caller's terms:
   * each caller waits `waitMs` and its own `signal`, and one leaving early (a request aborted,
   * waitMs 0) fails only itself. The last to leave takes the question's own outcome (its
   * NO_AGENT_ANSWER fails the work item still queued, so no agent starts on it).
   */
  async shared(
    key: string,
    waitMs: number,
    signal: AbortSignal | undefined,
    ask: (signal: AbortSignal) => Promise<PartitionKeysAnswer>,
  ): Promise<PartitionKeysAnswer> {
    let asking = this.inFlight.get(key);
    if (!asking) {
      const stop = new AbortController();
      const answer: Promise<PartitionKeysAnswer> = ask(stop.signal).finally(() => {
        if (this.inFlight.get(key)?.answer === answer) this.inFlight.delete(key);
      });
      // A caller that left does not read it; the last one to leave does.
      answer.catch(() => undefined);
      const started: Asking = { answer, callers: 0, stop };
      this.inFlight.set(key, started);
      asking = started;
    }
    const mine = asking;
    mine.callers++;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const left = new Promise<'left'>((resolve) => {
      timer = setTimeout(() => resolve('left'), Math.max(0, waitMs));
      onAbort = () => resolve('left');
      if (signal?.aborted) resolve('left');
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const first = await Promise.race([mine.answer, left]);
      if (first !== 'left') return first;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      mine.callers--;
    }
    if (mine.callers > 0) {
      throw new OutpostError('NO_AGENT_ANSWER', {
        detail: `the partition keys were not answered within ${waitMs} ms; the question stays open for the other requests asking it`,
      });
    }
    // The last caller: a later one asks anew rather than joining a question that is ending.
    if (this.inFlight.get(key) === mine) this.inFlight.delete(key);
    mine.stop.abort();
    return mine.answer;
  }
}

/**
 * The agent's answer when it is a page: string keys, and offset and total (when given) whole
 * numbers, total not below the keys; else undefined (nothing in it is cached or searched).
 */
export function pageOfKeys(
  raw: unknown,
): (Partial<PartitionKeysAnswer> & Pick<PartitionKeysAnswer, 'keys'>) | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const page = raw as Partial<Record<keyof PartitionKeysAnswer, unknown>>;
  const whole = (n: unknown): boolean => n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);
  if (!Array.isArray(page.keys) || !page.keys.every((k) => typeof k === 'string')) return undefined;
  if (!whole(page.offset) || !whole(page.total)) return undefined;
  if (page.total !== undefined && (page.total as number) < page.keys.length) return undefined;
  return raw as Partial<PartitionKeysAnswer> & Pick<PartitionKeysAnswer, 'keys'>;
}

/**
 * `waitMs` and `signal` are this request's; `longestWaitMs` is the longest any request may wait
 * (the limit), which a question shared with later requests may wait for them.
 */
export async function partitionKeys(
  store: Store,
  cache: PartitionSearchCache,
  req: PartitionKeysRequest,
  waitMs: number,
  signal?: AbortSignal,
  longestWaitMs = waitMs,
): Promise<PartitionKeysAnswer> {
  const search = req.search?.trim() || undefined;
  if (search && search.length > MAX_PARTITION_SEARCH_LENGTH) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `search is ${search.length} characters; at most ${MAX_PARTITION_SEARCH_LENGTH}`,
    });
  }
  const offset = req.offset ?? 0;
  const asked = req.first ?? MAX_PARTITION_NAMES_PAGE;
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(asked) || asked < 1) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: 'offset must be 0 or more and first 1 or more' });
  }
  // A page holds at most MAX_PARTITION_NAMES_PAGE keys (partitionNamesPage, the agent): a larger
  // `first` is that page, and one search in the cache and in flight.
  const first = Math.min(asked, MAX_PARTITION_NAMES_PAGE);
  const loc = await requireLocation(store.db, req.location);
  const job = loc.snapshot?.jobs.find((j) => j.name === req.job);
  if (!job) throw new OutpostError('UNKNOWN_JOB', { detail: `${req.job} is not in ${req.location}` });
  if (!job.partitions) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: `job ${req.job} is not partitioned: it has no keys` });
  }
  const set = loc.snapshot?.partitions.find((p) => p.name === job.partitions);
  if (set?.keys && listsAllKeys(set)) {
    return { ...partitionNamesPage(set.keys, offset, first, search), source: 'SNAPSHOT' };
  }
  // Per version: a deploy or reload bumps it, and its keys may differ.
  const scope = JSON.stringify([loc.name, loc.version, job.name]);
  // The search is case-insensitive: "K0999" and "k0999" are one search.
  const key = scope + JSON.stringify([search?.toLowerCase() ?? '', offset, first]);
  const remembered = cache.get(key);
  if (remembered) return { ...remembered, ...(search ? { search } : {}), source: 'CACHE' };
  const wider = search && offset === 0 ? cache.narrowing(scope, search) : undefined;
  if (wider) return { ...partitionNamesPage(wider.keys, 0, first, search), source: 'CACHE' };
  const page = await cache.shared(key, waitMs, signal, async (stop) => {
    const started = performance.now();
    // Waits until its last caller left (`stop`), at most the longest wait a request may ask.
    const item = await queryCodeLocation(
      store,
      { location: loc.name, job: job.name, query: 'partitionNames', offset, first, ...(search ? { search } : {}) },
      longestWaitMs,
      stop,
    );
    const what = `partition keys of ${job.name}`;
    if (item.status === 'FAILED') throw itemError(item, 'USER_CODE_ERROR', what);
    if (item.status !== 'COMPLETED') {
      throw await noAnswer(store, item, `${what} in ${loc.name}`, Math.round(performance.now() - started));
    }
    const raw = (item.result as { answer?: unknown } | null)?.answer;
    // An agent from before paging answers the whole list.
    if (Array.isArray(raw) && raw.every((k) => typeof k === 'string')) {
      const whole: PartitionKeysAnswer = { ...partitionNamesPage(raw, offset, first, search), source: 'LOCATION' };
      if (loc.status === 'LOADED') cache.set(key, whole);
      return whole;
    }
    const answer = pageOfKeys(raw);
    if (!answer) {
      throw new OutpostError('NO_AGENT_ANSWER', {
        detail: `${what}: the agent's answer is not a page of keys (string keys, whole-number offset and total) (work item ${item.id}); upgrade the agents serving ${loc.name}`,
      });
    }
    const fresh: PartitionKeysAnswer = {
      keys: answer.keys,
      offset: answer.offset ?? offset,
      total: answer.total ?? answer.keys.length,
      ...(search ? { search } : {}),
      ...(answer.searchedPage ? { searchedPage: true } : {}),
      source: 'LOCATION',
    };
    if (loc.status === 'LOADED') cache.set(key, fresh);
    return fresh;
  });
  return page;
}
