// A validation rule that rejects operations nested deeper than the configured limit,
// counting through fragments (each fragment is expanded once per path, so cycles end).
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import { OutpostError } from '../../shared/errors.js';
import { limitDetail } from '../limits.js';
import { toGraphQLError } from './errors.js';

function depthOf(
  set: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  seen: Set<string>,
  limit: number,
  current: number,
): number {
  if (!set || current > limit) return current;
  let max = current;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      // Introspection meta fields are not counted: GraphiQL's schema query is deep.
      if (sel.name.value.startsWith('__')) continue;
      max = Math.max(
        max,
        sel.selectionSet ? depthOf(sel.selectionSet, fragments, seen, limit, current + 1) : current + 1,
      );
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      max = Math.max(max, depthOf(sel.selectionSet, fragments, seen, limit, current));
    } else {
      const name = sel.name.value;
      const frag = fragments[name];
      if (!frag || seen.has(name)) continue;
      seen.add(name);
      max = Math.max(max, depthOf(frag.selectionSet, fragments, seen, limit, current));
      seen.delete(name);
    }
    if (max > limit) return max;
  }
  return max;
}

export function depthLimitRule(limit: number): (ctx: ValidationContext) => ASTVisitor {
  return (ctx) => ({
    OperationDefinition(node) {
      const fragments: Record<string, FragmentDefinitionNode> = {};
      for (const d of ctx.getDocument().definitions)
        if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
      const depth = depthOf(node.selectionSet, fragments, new Set(), limit, 0);
      if (depth > limit) {
        const e = new OutpostError('QUERY_TOO_DEEP', {
          detail: limitDetail('maxQueryDepth', limit, `the operation is nested ${depth} deep or more`),
          data: { limit: 'maxQueryDepth', value: limit },
        });
        ctx.reportError(toGraphQLError(e, new GraphQLError(e.message, { nodes: [node] })));
      }
    },
  });
}
