// Static query cost, checked before anything executes. Each field costs 1 per time it would
// resolve; a list field multiplies its subtree by its `first` (argument, variable or schema
// default), else by the length of a list argument given (at least UNSIZED_LIST), else by
// UNSIZED_LIST; a connection (`runs(first)`) multiplies its edges/nodes. Introspection costs a fixed amount per `__schema`. Aliases count as fields, so
// 3,000 aliases of `run(id){events(first:1000){seq}}` cost 3,000 × 1,002 and are refused.
import {
  Kind,
  OperationTypeNode,
  getNamedType,
  getNullableType,
  isListType,
  valueFromAST,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { OutpostError } from '../../shared/errors.js';
import { limitDetail, type ApiLimits } from '../limits.js';

/** Assumed length of a list that takes no `first` (locations, jobs, ops, agents…). */
export const UNSIZED_LIST = 10;
/** One `__schema` answer: the whole schema, bounded by its size. */
const INTROSPECTION_COST = 1000;

export interface QueryCost {
  cost: number;
  fields: number;
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  /** Stop early once either total is past its limit: the answer is already "too much". */
  stopAt: QueryCost;
  total: QueryCost;
}

function listSize(field: GraphQLField<unknown, unknown>, node: { arguments?: readonly unknown[] }, w: Walk): number {
  const args = node.arguments as { name: { value: string }; value: Parameters<typeof valueFromAST>[0] }[];
  const arg = field.args.find((a) => a.name === 'first');
  if (!arg) {
    // A list answered per element of a list argument (`runCursors(runIds)`) is that long: counted
    // at 10, aliases of it would resolve 100 ids each at a tenth of their cost.
    let size = UNSIZED_LIST;
    for (const a of field.args) {
      if (!isListType(getNullableType(a.type))) continue;
      const given = args.find((g) => g.name.value === a.name);
      const v: unknown = given ? valueFromAST(given.value, a.type, w.variables) : undefined;
      if (Array.isArray(v)) size = Math.max(size, v.length);
    }
    return size;
  }
  const given = args.find((a) => a.name.value === 'first');
  const v = given ? valueFromAST(given.value, arg.type, w.variables) : arg.defaultValue;
  // An invalid `first` is refused by its resolver; cost it at 1 so that message wins.
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 1;
}

function walk(
  set: SelectionSetNode,
  parent: GraphQLObjectType | undefined,
  multiplier: number,
  w: Walk,
  seen: Set<string>,
): void {
  for (const sel of set.selections) {
    if (w.total.cost > w.stopAt.cost || w.total.fields > w.stopAt.fields) return;
    if (sel.kind === Kind.FRAGMENT_SPREAD) {
      const frag = w.fragments[sel.name.value];
      if (!frag || seen.has(frag.name.value)) continue;
      seen.add(frag.name.value);
      const t = w.schema.getType(frag.typeCondition.name.value) as GraphQLObjectType | undefined;
      walk(frag.selectionSet, t ?? parent, multiplier, w, seen);
      seen.delete(frag.name.value);
      continue;
    }
    if (sel.kind === Kind.INLINE_FRAGMENT) {
      const t = sel.typeCondition ? (w.schema.getType(sel.typeCondition.name.value) as GraphQLObjectType) : parent;
      walk(sel.selectionSet, t ?? parent, multiplier, w, seen);
      continue;
    }
    const name = sel.name.value;
    w.total.fields += 1;
    if (name === '__typename') {
      w.total.cost += multiplier;
      continue;
    }
    if (name === '__schema' || name === '__type') {
      w.total.cost += multiplier * (name === '__schema' ? INTROSPECTION_COST : INTROSPECTION_COST / 20);
      continue;
    }
    w.total.cost += multiplier;
    const field = parent?.getFields?.()[name];
    if (!field || !sel.selectionSet) continue;
    const type = getNullableType(field.type);
    const named = getNamedType(field.type) as GraphQLObjectType;
    let childMultiplier = multiplier;
    if (isListType(type)) childMultiplier = multiplier * listSize(field, sel, w);
    else if (field.args.some((a) => a.name === 'first')) childMultiplier = multiplier * listSize(field, sel, w);
    // A connection's edges/nodes are the page just sized by `first`, not a further list.
    const connection = !isListType(type) && named.name.endsWith('Connection');
    walkChildren(sel.selectionSet, named, childMultiplier, w, seen, connection);
  }
}

function walkChildren(
  set: SelectionSetNode,
  type: GraphQLObjectType,
  multiplier: number,
  w: Walk,
  seen: Set<string>,
  connection: boolean,
): void {
  if (!connection) return walk(set, type, multiplier, w, seen);
  for (const sel of set.selections) {
    if (sel.kind !== Kind.FIELD || !sel.selectionSet) {
      walk({ kind: Kind.SELECTION_SET, selections: [sel] }, type, multiplier, w, seen);
      continue;
    }
    // edges / nodes: one list of the page's size, already in the multiplier.
    w.total.fields += 1;
    w.total.cost += multiplier;
    const f = type.getFields()[sel.name.value];
    walk(sel.selectionSet, f ? (getNamedType(f.type) as GraphQLObjectType) : undefined, multiplier, w, seen);
  }
}

/** The operation's cost and field count (stops counting once past `stopAt`). */
export function queryCost(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  stopAt: QueryCost = { cost: Infinity, fields: Infinity },
): QueryCost {
  const root = schema.getRootType(operation.operation);
  const w: Walk = { schema, fragments, variables, stopAt, total: { cost: 0, fields: 0 } };
  walk(operation.selectionSet, root ?? undefined, 1, w, new Set());
  return w.total;
}

/** The root fields an operation selects, aliases included and fragments expanded (not `__typename`). */
export function rootFieldCount(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
): number {
  // Each fragment is counted once (memo): spreads of spreads would otherwise cost 2^depth.
  const memo = new Map<string, number>();
  const count = (set: SelectionSetNode, seen: Set<string>): number => {
    let n = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) n += sel.name.value === '__typename' ? 0 : 1;
      else if (sel.kind === Kind.INLINE_FRAGMENT) n += count(sel.selectionSet, seen);
      else {
        const name = sel.name.value;
        const frag = fragments[name];
        if (!frag || seen.has(name)) continue;
        let c = memo.get(name);
        if (c === undefined) memo.set(name, (c = count(frag.selectionSet, new Set([...seen, name]))));
        n += c;
      }
    }
    return n;
  };
  return count(operation.selectionSet, new Set());
}

/** The error for a mutation operation with more mutations than maxMutationsPerRequest, or undefined. */
export function mutationCountError(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  limits: Pick<ApiLimits, 'maxMutationsPerRequest'>,
): OutpostError | undefined {
  if (operation.operation !== OperationTypeNode.MUTATION) return undefined;
  const n = rootFieldCount(operation, fragments);
  if (n <= limits.maxMutationsPerRequest) return undefined;
  return new OutpostError('QUERY_TOO_COSTLY', {
    detail: limitDetail(
      'maxMutationsPerRequest',
      limits.maxMutationsPerRequest,
      `the request holds ${n} mutations (aliases count); send the rest in further requests`,
    ),
    data: { limit: 'maxMutationsPerRequest', value: limits.maxMutationsPerRequest },
  });
}

/** The error for an operation over either limit, or undefined. */
export function costError(
  total: QueryCost,
  limits: Pick<ApiLimits, 'maxQueryCost' | 'maxQueryFields'>,
): OutpostError | undefined {
  if (total.fields > limits.maxQueryFields) {
    return new OutpostError('QUERY_TOO_COSTLY', {
      detail: limitDetail(
        'maxQueryFields',
        limits.maxQueryFields,
        `the operation selects over ${limits.maxQueryFields} fields (aliases count)`,
      ),
      data: { limit: 'maxQueryFields', value: limits.maxQueryFields },
    });
  }
  if (total.cost > limits.maxQueryCost) {
    return new OutpostError('QUERY_TOO_COSTLY', {
      detail: limitDetail(
        'maxQueryCost',
        limits.maxQueryCost,
        `the operation would resolve over ${limits.maxQueryCost} fields (lists count \`first\` times)`,
      ),
      data: { limit: 'maxQueryCost', value: limits.maxQueryCost },
    });
  }
  return undefined;
}
