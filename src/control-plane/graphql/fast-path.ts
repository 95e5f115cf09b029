// The fast path for repeated GraphQL POSTs (the agent's few documents, a client's launches and
// polls): a document yoga has already parsed and validated without an error is executed here
// directly, with the same context, cost check, error masking and public answer shape
// (yoga-plugins.ts publicAnswer), skipping yoga's per-request machinery, which cost the control
// plane several times the resolvers' own CPU. Anything else — a new or invalid document, a
// subscription, an unusual body or Accept header, variables that do not coerce — goes to yoga,
// which answers it as before; no resolver has run when the fast path declines.
import { execute, Kind, OperationTypeNode, type DocumentNode, type GraphQLSchema, type Source } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ParsedBody } from '../http/parsed-body.js';
import { wholeResponse } from '../http/whole-body.js';
import { DocumentCache } from './document-cache.js';
import type { ApiLimits } from '../limits.js';
import type { ApiContext } from './context.js';
import { costCheck, publicAnswer } from './yoga-plugins.js';

/** Distinct document texts remembered per API (and DOCUMENT_CACHE_CHARS of text); past it the least recently used is let go. */
const DOCUMENTS = 200;

const SOURCE = Symbol('outpost.documentSource');

/** One query or mutation and no fragments-only or multi-operation documents (operationName is then moot). */
function singleOperation(doc: DocumentNode): boolean {
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  return ops.length === 1 && ops[0]!.operation !== OperationTypeNode.SUBSCRIPTION;
}

/** Documents yoga validated (with every rule and limit it applies) without an error, by their text. */
export class ValidatedDocuments {
  private readonly docs: DocumentCache<DocumentNode>;

  constructor(size = DOCUMENTS, maxChars?: number) {
    this.docs = new DocumentCache(size, maxChars);
  }

  get(source: string): DocumentNode | undefined {
    return this.docs.get(source);
  }

  /** The yoga plugin that records them (after the depth and cost plugins: their refusals are validation errors). */
  plugin(): Plugin {
    return {
      onParse: ({ params, context }) => {
        const src = params.source as string | Source;
        const source = typeof src === 'string' ? src : src.body;
        (context as Record<symbol, unknown>)[SOURCE] = source;
      },
      onValidate: ({ params, context }) => {
        const source = (context as Record<symbol, unknown>)[SOURCE];
        return ({ valid, result }) => {
          const doc = params.documentAST as DocumentNode;
          if (!valid || result.length > 0 || typeof source !== 'string' || this.docs.has(source)) return;
          if (!singleOperation(doc)) return;
          this.docs.set(source, doc);
        };
      },
    };
  }
}

/** The media type yoga would answer an Accept header with, for the headers the fast path takes. */
function answerType(accept: string | null): string | undefined {
  const a = (accept ?? '').replace(/\s/g, '').toLowerCase();
  if (a === '') return 'application/json';
  if (a === 'application/graphql-response+json,application/json') return 'application/graphql-response+json';
  if (a === 'application/json' || a === 'application/graphql-response+json') return a;
  return undefined;
}

interface Params {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

function asParams(v: unknown): Params | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const p = v as Record<string, unknown>;
  for (const k of Object.keys(p)) if (k !== 'query' && k !== 'variables' && k !== 'operationName') return undefined;
  if (typeof p.query !== 'string') return undefined;
  const vars = p.variables;
  if (vars !== undefined && (typeof vars !== 'object' || vars === null || Array.isArray(vars))) return undefined;
  if (p.operationName !== undefined && typeof p.operationName !== 'string') return undefined;
  return p as unknown as Params;
}

export interface FastPathDeps {
  schema: GraphQLSchema;
  documents: ValidatedDocuments;
  limits: ApiLimits;
  maskError: (error: unknown, message: string) => Error;
}

/** The answer to a POST (its body parsed once, http/parsed-body.ts) whose document yoga validated before, or undefined to let yoga answer it. */
export async function fastAnswer(
  deps: FastPathDeps,
  request: Request,
  body: ParsedBody,
  context: ApiContext,
): Promise<Response | undefined> {
  const type = answerType(request.headers.get('accept'));
  if (!type || !body.ok) return undefined;
  const params = asParams(body.value);
  const document = params && deps.documents.get(params.query);
  if (!params || !document) return undefined;
  const args = {
    schema: deps.schema,
    document,
    contextValue: context,
    variableValues: params.variables,
    operationName: params.operationName,
  };
  if (costCheck(deps.limits, args)) return undefined;
  const result = await execute(args);
  // No data at all: a request error (variables, operation name) raised before any resolver ran.
  if (!('data' in result)) return undefined;
  const errors = result.errors?.map((e) => deps.maskError(e, 'Unexpected error.'));
  const answer = publicAnswer({ data: result.data, ...(errors ? { errors } : {}) }, deps.limits);
  return wholeResponse(answer.body, {
    status: answer.status,
    headers: { 'content-type': `${type}; charset=utf-8`, ...answer.headers },
  });
}
