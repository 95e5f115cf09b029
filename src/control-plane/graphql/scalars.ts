// The JSON scalar shared by both schemas: any JSON value, passed through as is, but no deeper
// than maxJsonDepth, checked without recursion before anything recursive (stringify, Ajv) sees it.
import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { checkJsonDepth } from '../core/input-rules.js';
import { FIXED_INPUT_LIMITS } from '../limits.js';
import { toGraphQLError } from './errors.js';

/** Object/list nesting of a literal, counted without recursion; stops once past `max`. */
function literalDepth(node: ValueNode, max: number): number {
  let deepest = 0;
  const stack: { n: ValueNode; d: number }[] = [{ n: node, d: 0 }];
  while (stack.length) {
    const { n, d } = stack.pop()!;
    if (n.kind !== Kind.LIST && n.kind !== Kind.OBJECT) continue;
    deepest = Math.max(deepest, d + 1);
    if (deepest > max) return deepest;
    if (n.kind === Kind.LIST) for (const v of n.values) stack.push({ n: v, d: d + 1 });
    else for (const f of n.fields) stack.push({ n: f.value, d: d + 1 });
  }
  return deepest;
}

/** Throws the coded JSON_TOO_DEEP as a GraphQL error (graphql-js keeps its extensions). */
function depthChecked<T>(value: T): T {
  try {
    checkJsonDepth('a JSON value', value);
  } catch (e) {
    throw toGraphQLError(e as Parameters<typeof toGraphQLError>[0]);
  }
  return value;
}

function literal(node: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((v) => literal(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[node.name.value];
    default:
      return undefined;
  }
}

/** A value nested `n` deep (only to raise the depth error with its usual wording). */
function nest(n: number): unknown {
  let v: unknown = null;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (v) => v,
  parseValue: (v) => depthChecked(v),
  parseLiteral: (node, variables) => {
    const max = FIXED_INPUT_LIMITS.maxJsonDepth;
    // A literal deeper than the limit is refused before `literal` recurses into it.
    if (literalDepth(node, max) > max) return depthChecked({ deep: nest(max + 1) });
    return depthChecked(literal(node, variables));
  },
});
