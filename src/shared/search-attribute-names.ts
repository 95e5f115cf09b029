// The names of Outpost's custom search attributes (all Keyword), with no Temporal import: the
// `outpost dev` supervisor registers them on the dev server and would otherwise keep
// @temporalio/common (~13 MB resident) loaded for its lifetime. Typed keys: search-attributes.ts.
export const SA_NAMES = {
  runId: 'OutpostRunId',
  job: 'OutpostJob',
  location: 'OutpostLocation',
  workItemKind: 'OutpostWorkItemKind',
} as const;

/** `--search-attribute` values for `temporal server start-dev`, and what a real cluster must register. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: readonly string[] = Object.values(SA_NAMES).map((n) => `${n}=Keyword`);
