// Dagster's in-band errors (`SerializableErrorInfo`, with its chain of causes) as Outpost's
// user-code errors: the same shape the TypeScript code servers report.
import type { UserCodeError } from '../../gen/outpost/codeserver/v1/code_server.js';
import type { DagsterErrorInfo } from './serdes-readers.js';

function chain(e: DagsterErrorInfo): DagsterErrorInfo[] {
  const out: DagsterErrorInfo[] = [];
  for (let cur: DagsterErrorInfo | null = e; cur && out.length < 20; cur = cur.cause) out.push(cur);
  return out;
}

/** One line per error in the chain: "Cls: message", outermost first. */
export function formatDagsterError(e: DagsterErrorInfo): string {
  return chain(e)
    .map((x, i) => `${i ? 'caused by ' : ''}${x.clsName ?? 'Error'}: ${x.message.trim()}`)
    .join('\n');
}

/** `phase` says where it happened, as for TS locations: "load", "schedule:<name>", "sensor:<name>". */
export function toUserCodeError(e: DagsterErrorInfo, phase: string): UserCodeError {
  const all = chain(e);
  const root = all[all.length - 1]!;
  return {
    name: e.clsName ?? 'Error',
    // The outer message is often generic ("Error occurred during the execution of ..."): keep the root cause too.
    message:
      all.length > 1 ? `${e.message.trim()} (${root.clsName ?? 'Error'}: ${root.message.trim()})` : e.message.trim(),
    stack: all.map((x) => x.stack.join('')).join('\nThe above exception was the cause of:\n'),
    phase,
  };
}
