// Turns thrown errors into GraphQL errors with `extensions: { code, hint, http, data? }`.
// OutpostErrors keep their message (it never holds a secret); anything else is masked.
import { GraphQLError, type GraphQLErrorExtensions } from 'graphql';
import { OutpostError, errorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/**
 * Our `http` extension is the status number; graphql-yoga types `http` as an object and strips
 * it when serializing, so the server re-serializes error results (see keep-error-extensions.ts).
 */
function outpostExtensions(ext: { code: string; hint: string; http: number; data?: unknown }): GraphQLErrorExtensions {
  return ext as unknown as GraphQLErrorExtensions;
}

export function toGraphQLError(e: OutpostError, base?: GraphQLError): GraphQLError {
  return new GraphQLError(e.message, {
    nodes: base?.nodes ?? null,
    source: base?.source ?? null,
    positions: base?.positions ?? null,
    path: base?.path ?? null,
    originalError: e,
    extensions: outpostExtensions({ code: e.code, hint: e.hint, http: e.http, ...(e.data ? { data: e.data } : {}) }),
  });
}

export function createMaskError(logger?: Logger): (error: unknown, message: string) => Error {
  return (error, message) => {
    const gql = error instanceof GraphQLError ? error : undefined;
    const original = gql?.originalError ?? error;
    if (original instanceof OutpostError) return toGraphQLError(original, gql);
    // Errors yoga raises itself (parse, validation, variables) already say what is wrong.
    if (gql && !gql.originalError) return gql;
    logger?.error(
      { err: original instanceof Error ? { message: original.message, stack: original.stack } : String(original) },
      'unexpected error in a resolver',
    );
    return new GraphQLError(message, {
      nodes: gql?.nodes ?? null,
      path: gql?.path ?? null,
      extensions: outpostExtensions({
        code: errorCode('INTERNAL'),
        hint: 'Report this with the server log.',
        http: 500,
      }),
    });
  };
}
