// Turns thrown errors into GraphQL errors with `extensions: { code, hint, http, data? }`.
// OutpostErrors keep their message (it never holds a secret); resolver failures of any other
// kind are masked as INTERNAL; request errors (parse, validation, variables) keep their message.
//
// graphql-yoga owns `extensions.http` internally (an object it mutates, then strips), so inside
// the server our status travels as `outpostHttp`; yoga-plugins.ts writes the public shape.
import { GraphQLError, type GraphQLErrorExtensions } from 'graphql';
import { OutpostError, errorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

export interface PublicErrorExtensions {
  code: string;
  hint: string;
  http: number;
  data?: unknown;
}

export function toGraphQLError(e: OutpostError, base?: GraphQLError): GraphQLError {
  return new GraphQLError(e.message, {
    nodes: base?.nodes ?? null,
    source: base?.source ?? null,
    positions: base?.positions ?? null,
    path: base?.path ?? null,
    originalError: e,
    extensions: { code: e.code, hint: e.hint, outpostHttp: e.http, ...(e.data ? { data: e.data } : {}) },
  });
}

/** The public extensions for any error in a result (ours, or one graphql-js/yoga raised). */
export function publicExtensions(ext: GraphQLErrorExtensions | undefined): PublicErrorExtensions {
  const e = (ext ?? {}) as Record<string, unknown>;
  if (typeof e.outpostHttp === 'number' && typeof e.code === 'string') {
    return {
      code: e.code,
      hint: typeof e.hint === 'string' ? e.hint : '',
      http: e.outpostHttp,
      ...(e.data !== undefined ? { data: e.data } : {}),
    };
  }
  const status = (e.http as { status?: number } | undefined)?.status;
  return {
    code: errorCode('BAD_REQUEST'),
    hint: 'Check the request against the API schema (GraphiQL at /graphql shows it).',
    http: status ?? 400,
    ...(typeof e.code === 'string' ? { data: { reason: e.code } } : {}),
  };
}

/**
 * `unavailable` names a store that could not be reached (store.unavailableError): such a failure
 * answers POSTGRES_UNAVAILABLE (503, what to check), not INTERNAL ("report this"), and is not
 * logged per request (the daemon logs the outage once, /readyz says it).
 */
export function createMaskError(
  logger?: Logger,
  unavailable?: (err: unknown) => OutpostError | undefined,
): (error: unknown, message: string) => Error {
  return (error, message) => {
    const gql = error instanceof GraphQLError ? error : undefined;
    const original = gql?.originalError ?? error;
    if (original instanceof OutpostError) return toGraphQLError(original, gql);
    const down = unavailable?.(original);
    if (down) return toGraphQLError(down, gql);
    // No path: the request itself is wrong (syntax, validation, variable types); say so.
    if (gql && !gql.path) return gql;
    logger?.error(
      { err: original instanceof Error ? { message: original.message, stack: original.stack } : String(original) },
      'unexpected error in a resolver',
    );
    return new GraphQLError(message, {
      nodes: gql?.nodes ?? null,
      path: gql?.path ?? null,
      extensions: { code: errorCode('INTERNAL'), hint: 'Report this with the server log.', outpostHttp: 500 },
    });
  };
}
