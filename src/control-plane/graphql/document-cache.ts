// Caches keyed by a GraphQL document's text (yoga's parse and parse-error caches, the fast path's
// validated documents), bounded by the text they hold as well as by their count. A parsed
// document keeps its whole source text and a token chain (~75 bytes per character of a dense
// document, measured), so a count alone bounded nothing: any token holder could pin 1,024 texts
// of up to maxBodyBytes (16 MiB) each, e.g. one `{ __typename }` with a long comment, in yoga's
// LRU, and 200 more in the fast path's. A text over the budget is not cached at all.
/** Characters of document text one cache holds at most (the agent's documents total ~5 KB). */
export const DOCUMENT_CACHE_CHARS = 256 * 1024;

/** Least recently used first out, by count and by total text length. */
export class DocumentCache<T> {
  private readonly entries = new Map<string, T>();
  private chars = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxChars = DOCUMENT_CACHE_CHARS,
  ) {}

  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    // Most recently used last: eviction takes the first.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, value: T): void {
    if (key.length > this.maxChars) return;
    if (this.entries.delete(key)) this.chars -= key.length;
    while (this.entries.size > 0 && (this.entries.size >= this.maxEntries || this.chars + key.length > this.maxChars)) {
      const oldest = this.entries.keys().next().value!;
      this.entries.delete(oldest);
      this.chars -= oldest.length;
    }
    this.entries.set(key, value);
    this.chars += key.length;
  }

  /** Entries and characters held (tests). */
  get size(): { entries: number; chars: number } {
    return { entries: this.entries.size, chars: this.chars };
  }
}
