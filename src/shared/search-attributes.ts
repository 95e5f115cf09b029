// Custom search attributes Outpost sets on workflows, so runs can be found in the Temporal UI
// (e.g. `OutpostJob = "hello"`). Pure module: safe to import from workflow code.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SA_NAMES } from './search-attribute-names.js';

export { SEARCH_ATTRIBUTE_REGISTRATIONS } from './search-attribute-names.js';

export const SA_RUN_ID = defineSearchAttributeKey(SA_NAMES.runId, SearchAttributeType.KEYWORD);
export const SA_JOB = defineSearchAttributeKey(SA_NAMES.job, SearchAttributeType.KEYWORD);
export const SA_LOCATION = defineSearchAttributeKey(SA_NAMES.location, SearchAttributeType.KEYWORD);
export const SA_WORK_ITEM_KIND = defineSearchAttributeKey(SA_NAMES.workItemKind, SearchAttributeType.KEYWORD);
