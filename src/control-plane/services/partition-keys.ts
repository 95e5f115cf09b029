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
}

/** Recent searches and those in flight, per control-plane process. */
export class PartitionSearchCache {
  private readonly answers = new Map<string, Remembered>();
  private readonly inFlight = new Map<string, Promise<PartitionKeysAnswer>>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  get(key: string): PartitionKeysAnswer | undefined {
    const hit = this.answers.get(key);
    if (!hit) return undefined;
    if (this.now() - hit.at > PARTITION_SEARCH_CACHE_MS) {
      this.answers.delete(key);
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
    this.answers.delete(key);
    if (this.answers.size >= PARTITION_SEARCH_CACHE_ENTRIES) {
      const oldest = this.answers.keys().next();
      if (!oldest.done) this.answers.delete(oldest.value);
    }
    this.answers.set(key, { page, at: this.now() });
  }

  /** `ask()` once for concurrent callers of the same key. */
  async shared(key: string, ask: () => Promise<PartitionKeysAnswer>): Promise<PartitionKeysAnswer> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = ask().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }
}

export async function partitionKeys(
  store: Store,
  cache: PartitionSearchCache,
  req: PartitionKeysRequest,
  waitMs: number,
  signal?: AbortSignal,
): Promise<PartitionKeysAnswer> {
  const search = req.search?.trim() || undefined;
  if (search && search.length > MAX_PARTITION_SEARCH_LENGTH) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `search is ${search.length} characters; at most ${MAX_PARTITION_SEARCH_LENGTH}`,
    });
  }
  const offset = req.offset ?? 0;
  const first = req.first ?? MAX_PARTITION_NAMES_PAGE;
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(first) || first < 1) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: 'offset must be 0 or more and first 1 or more' });
  }
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
  const page = await cache.shared(key, async () => {
    const item = await queryCodeLocation(
      store,
      { location: loc.name, job: job.name, query: 'partitionNames', offset, first, ...(search ? { search } : {}) },
      waitMs,
      signal,
    );
    const what = `partition keys of ${job.name}`;
    if (item.status === 'FAILED') throw itemError(item, 'USER_CODE_ERROR', what);
    if (item.status !== 'COMPLETED') throw await noAnswer(store, item, `${what} in ${loc.name}`, waitMs);
    const raw = (item.result as { answer?: unknown } | null)?.answer;
    // An agent from before paging answers the whole list.
    if (Array.isArray(raw) && raw.every((k) => typeof k === 'string')) {
      const whole: PartitionKeysAnswer = { ...partitionNamesPage(raw, offset, first, search), source: 'LOCATION' };
      if (loc.status === 'LOADED') cache.set(key, whole);
      return whole;
    }
    const answer = raw as Partial<PartitionKeysAnswer> | undefined;
    if (!answer || !Array.isArray(answer.keys)) {
      throw new OutpostError('NO_AGENT_ANSWER', {
        detail: `${what}: the agent's answer is not a page of keys (work item ${item.id}); upgrade the agents serving ${loc.name}`,
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
