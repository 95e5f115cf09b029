// Custom search attributes Outpost sets on workflows, so runs can be found in the Temporal UI
// (e.g. `OutpostJob = "hello"`). Pure module: safe to import from workflow code.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_RUN_ID = defineSearchAttributeKey('OutpostRunId', SearchAttributeType.KEYWORD);
export const SA_JOB = defineSearchAttributeKey('OutpostJob', SearchAttributeType.KEYWORD);
export const SA_LOCATION = defineSearchAttributeKey('OutpostLocation', SearchAttributeType.KEYWORD);
export const SA_WORK_ITEM_KIND = defineSearchAttributeKey('OutpostWorkItemKind', SearchAttributeType.KEYWORD);

/** `--search-attribute` values for `temporal server start-dev`, and what a real cluster must register. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: readonly string[] = [
  SA_RUN_ID,
  SA_JOB,
  SA_LOCATION,
  SA_WORK_ITEM_KIND,
].map((k) => `${k.name}=Keyword`);
