// A JSON value kept as the exact text the store writes (what JSON.stringify of its parsed value
// gives): the event-line scanner (graphql/event-line-scan.ts) vouches for that, so the store
// writes the text as it came instead of parsing it into objects and stringifying them again.
// toJSON gives the value back, so any other JSON.stringify of it writes the same text.
export class JsonText {
  constructor(readonly text: string) {}

  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/** The stored text of an event's `data` / `error` (null when absent). */
export const storedJson = (v: unknown): string | null =>
  v == null ? null : v instanceof JsonText ? v.text : JSON.stringify(v);
