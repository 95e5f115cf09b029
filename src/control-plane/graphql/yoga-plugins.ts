// graphql-yoga plugins shared by both APIs: the query-depth and query-cost limits, and the one
// public answer shape. Every error leaves as `{message, locations?, path?, extensions: {code,
// hint, http, data?}}` (yoga would strip `http`, which it reserves, and leak `originalError`),
// whether graphql-js, yoga's request parser or a resolver raised it; and when the whole answer
// is a refusal (no data), the HTTP status follows the error, as GraphQL over HTTP allows.
import {
  BREAK,
  GraphQLError,
  Kind,
  parse,
  visit,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type ParseOptions,
  type Source,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { OutpostError } from '../../shared/errors.js';
import type { ApiLimits } from '../limits.js';
import { FIXED_INPUT_LIMITS, limitDetail } from '../limits.js';
import { documentNesting } from './document-nesting.js';
import { costError, mutationCountError, queryCost } from './query-cost.js';
import { depthLimitRule } from './depth-limit.js';
import { publicExtensions, toGraphQLError, type PublicErrorExtensions } from './errors.js';

export function useDepthLimit(limit: number): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(depthLimitRule(limit));
    },
  };
}

/** The cost refusal for an operation, if over a limit; runs with the variables, before execution. */
export function costCheck(
  limits: CostLimits,
  args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: unknown; operationName?: string | null },
): GraphQLError | undefined {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  const operations = [];
  for (const d of args.document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
    else if (d.kind === Kind.OPERATION_DEFINITION) operations.push(d);
  }
  const op = args.operationName ? operations.find((o) => o.name?.value === args.operationName) : operations[0];
  if (!op) return undefined;
  // Before the cost: nothing has run, so a refused request changes nothing and writes no audit row.
  const tooMany = mutationCountError(op, fragments, limits);
  if (tooMany) return toGraphQLError(tooMany, new GraphQLError(tooMany.message, { nodes: [op] }));
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const total = queryCost(args.schema, op, fragments, variables, {
    cost: limits.maxQueryCost,
    fields: limits.maxQueryFields,
  });
  const e = costError(total, limits);
  return e ? toGraphQLError(e, new GraphQLError(e.message, { nodes: [op] })) : undefined;
}

/** Field nodes written in the document (fragments once), counted without recursion. */
function writtenFields(document: DocumentNode, stopAt: number): number {
  let n = 0;
  visit(document, {
    Field() {
      n += 1;
      return n > stopAt ? BREAK : undefined;
    },
  });
  return n;
}

type CostLimits = Pick<ApiLimits, 'maxQueryCost' | 'maxQueryFields' | 'maxQueryTokens' | 'maxMutationsPerRequest'>;

export function useCostLimit(limits: CostLimits): Plugin {
  // Per document: yoga's parse cache hands the same document object to every request that
  // sends the same text (the agent's few documents), so it is counted once.
  const written = new WeakMap<DocumentNode, number>();
  const writtenOf = (doc: DocumentNode): number => {
    let n = written.get(doc);
    if (n === undefined) {
      n = writtenFields(doc, limits.maxQueryFields);
      written.set(doc, n);
    }
    return n;
  };
  return {
    // Parsing is linear but not free (3,000 aliases: ~150 ms): stop at the token limit.
    onParse({ setParseFn }) {
      setParseFn((source: string | Source, options?: ParseOptions) => {
        const max = FIXED_INPUT_LIMITS.maxDocumentNesting;
        if (documentNesting(typeof source === 'string' ? source : source.body, max) > max) {
          const e = new OutpostError('QUERY_TOO_DEEP', {
            detail: limitDetail('maxDocumentNesting', max, `the document nests brackets deeper than ${max}`),
            data: { limit: 'maxDocumentNesting', value: max },
          });
          throw toGraphQLError(e);
        }
        try {
          return parse(source, { ...options, maxTokens: limits.maxQueryTokens });
        } catch (err) {
          if (err instanceof GraphQLError && /more tha[nt] \d+ tokens/.test(err.message)) {
            const e = new OutpostError('QUERY_TOO_COSTLY', {
              detail: limitDetail('maxQueryTokens', limits.maxQueryTokens, 'the document is too long'),
              data: { limit: 'maxQueryTokens', value: limits.maxQueryTokens },
            });
            throw toGraphQLError(e);
          }
          throw err;
        }
      });
    },
    // Before validation, whose field-merging check is quadratic in the aliases: a document that
    // already writes too many fields is refused without being validated.
    onValidate({ params, setResult }) {
      const e = costError({ cost: 0, fields: writtenOf(params.documentAST as DocumentNode) }, limits);
      if (e) setResult([toGraphQLError(e)]);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = costCheck(limits, args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = costCheck(limits, args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

interface PublicError {
  message: string;
  locations?: unknown;
  path?: unknown;
  extensions: PublicErrorExtensions;
}

function publicError(e: unknown): PublicError {
  if (e instanceof GraphQLError) {
    const json = e.toJSON();
    const orig = e.originalError;
    const ext = orig instanceof OutpostError ? { code: orig.code } : json.extensions;
    return {
      message: json.message,
      ...(json.locations ? { locations: json.locations } : {}),
      ...(json.path ? { path: json.path } : {}),
      extensions: publicExtensions(orig instanceof OutpostError ? toExtensions(orig) : ext),
    };
  }
  if (e instanceof OutpostError) return { message: e.message, extensions: publicExtensions(toExtensions(e)) };
  return { message: e instanceof Error ? e.message : String(e), extensions: publicExtensions(undefined) };
}

const toExtensions = (e: OutpostError) => ({
  code: e.code,
  hint: e.hint,
  outpostHttp: e.http,
  ...(e.data ? { data: e.data } : {}),
});

/**
 * Whether `value` as JSON would exceed `cap` bytes, estimated without recursion or building the
 * string (string lengths count as 1 byte per UTF-16 unit, so it errs low; the exact check follows).
 */
export function overBytes(value: unknown, cap: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length + 2;
    else if (typeof v === 'number' || typeof v === 'boolean') size += String(v).length;
    else if (v === null) size += 4;
    else if (typeof v !== 'object') continue;
    else if (Array.isArray(v)) {
      size += 2 + v.length;
      for (const x of v) stack.push(x);
    } else {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        size += k.length + 4;
        stack.push(x);
      }
    }
    if (size > cap) return true;
  }
  return false;
}

/** One status for an answer made only of errors: theirs if they agree, else 500 or 400. */
export function refusalStatus(errors: readonly { extensions: { http: number } }[]): number {
  const statuses = new Set(errors.map((e) => e.extensions.http));
  if (statuses.size === 1) return [...statuses][0]!;
  return [...statuses].some((s) => s >= 500) ? 500 : 400;
}

/** The public answer to an execution result: its status, headers and body (also the fast path's, graphql/fast-path.ts). */
export function publicAnswer(
  result: { data?: unknown; errors?: readonly unknown[] },
  limits: Pick<ApiLimits, 'maxResponseBytes'>,
): { status: number; headers: Record<string, string>; body: string } {
  const raw = result.errors ?? [];
  const errors = raw.map(publicError);
  const refused = errors.length > 0 && (result.data === undefined || result.data === null);
  const headers: Record<string, string> = {};
  for (const e of raw) {
    const h = (e as { extensions?: { http?: { headers?: Record<string, string> } } }).extensions?.http?.headers;
    if (h) Object.assign(headers, h);
  }
  const data: unknown = result.data;
  const visible = { ...(errors.length ? { errors } : {}), ...(data !== undefined ? { data } : {}) };
  let status = refused ? refusalStatus(errors) : 200;
  // A backstop behind the cost limit (which cannot see how large a JSON value is): an answer
  // over the limit is refused, and measured first without building the string.
  let body = overBytes(visible, limits.maxResponseBytes) ? undefined : JSON.stringify(visible);
  if (body === undefined || Buffer.byteLength(body) > limits.maxResponseBytes) {
    const e = publicError(
      new OutpostError('RESPONSE_TOO_LARGE', {
        detail: limitDetail('maxResponseBytes', limits.maxResponseBytes, 'the answer is larger'),
        data: { limit: 'maxResponseBytes', value: limits.maxResponseBytes },
      }),
    );
    body = JSON.stringify({ errors: [e] });
    status = e.extensions.http;
  }
  return { status, headers, body };
}

export function usePublicErrorShape(limits: Pick<ApiLimits, 'maxResponseBytes'>): Plugin {
  return {
    onResultProcess(payload) {
      const { result } = payload;
      if (!result || Array.isArray(result) || Symbol.asyncIterator in result) return;
      const { status, headers, body } = publicAnswer(result, limits);
      payload.setResult({
        ...result,
        extensions: { http: { status, headers } },
        stringify: () => body,
      });
    },
  };
}
