// graphql-yoga plugins shared by both APIs: the query-depth limit, and the public error shape
// `extensions: { code, hint, http, data? }` (yoga would strip `http`, which it reserves).
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { depthLimitRule } from './depth-limit.js';
import { publicExtensions } from './errors.js';

export function useDepthLimit(limit: number): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(depthLimitRule(limit));
    },
  };
}

export function usePublicErrorShape(): Plugin {
  return {
    onExecutionResult(payload) {
      const { result } = payload;
      if (!result || Array.isArray(result) || Symbol.asyncIterator in result || !result.errors?.length) return;
      const errors = result.errors.map((e) => {
        const json = e instanceof GraphQLError ? e.toJSON() : { message: (e as Error).message };
        return { ...json, extensions: publicExtensions(json.extensions) };
      });
      const body = JSON.stringify({ ...result, errors });
      payload.setResult({ ...result, stringify: () => body });
    },
  };
}
