// graphql-yoga plugins shared by both APIs: the query-depth limit, and serialization of error
// results that keeps our `extensions.http` status (yoga strips `http` as an internal key).
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { depthLimitRule } from './depth-limit.js';

export function useDepthLimit(limit: number): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(depthLimitRule(limit));
    },
  };
}

export function useKeepErrorExtensions(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || Array.isArray(result) || Symbol.asyncIterator in result || !result.errors?.length) return;
      const full = JSON.stringify({
        ...result,
        errors: result.errors.map((e) => (e instanceof GraphQLError ? e.toJSON() : e)),
      });
      setResult({ ...result, stringify: () => full });
    },
  };
}
