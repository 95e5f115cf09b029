// maxMutationsPerRequest counts an operation's root fields with aliases and fragments expanded
// (query-cost.ts rootFieldCount). It runs before the bounded cost walk, so it must itself stay
// linear in the document: a chain of fragments each spreading the next twice once cost 2^depth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { rootFieldCount } from '../../../src/control-plane/graphql/query-cost.js';

/** The count, and how many times the counter looked a fragment up. */
function counted(source: string): number {
  return countedWithLookups(source).count;
}
function countedWithLookups(source: string): { count: number; lookups: number } {
  const doc = parse(source);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const defs: Record<string, FragmentDefinitionNode> = Object.fromEntries(
    doc.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  let lookups = 0;
  const fragments = new Proxy(defs, {
    get: (t, k) => {
      lookups++;
      return typeof k === 'string' ? t[k] : undefined;
    },
  });
  return { count: rootFieldCount(op, fragments), lookups };
}

test('aliases, inline fragments and spreads all count; __typename does not', () => {
  assert.equal(
    counted(`mutation { a: revokeToken(id: "1") b: revokeToken(id: "2") __typename ... on Mutation { c: revokeToken(id: "3") } ...F }
      fragment F on Mutation { d: revokeToken(id: "4") e: revokeToken(id: "5") }`),
    5,
  );
});

test('a fragment spread twice at every level of a deep chain is expanded once per spread, not 2^depth times', () => {
  const depth = 20;
  const chain = Array.from({ length: depth }, (_, i) => `fragment F${i} on Mutation { ...F${i + 1} ...F${i + 1} }`);
  const source = `mutation { ...F0 }\n${chain.join('\n')}\nfragment F${depth} on Mutation { __typename }`;
  const cheap = countedWithLookups(source);
  assert.equal(cheap.count, 0);
  // One lookup per spread in the document (2 per level), where expanding each spread anew made 2^21.
  assert.ok(cheap.lookups <= 2 * depth + 1, `${cheap.lookups} fragment lookups for a chain of ${depth}`);
  // With one field at the bottom the count is 2^depth (the limit then refuses the request).
  const field = source.replace(
    `fragment F${depth} on Mutation { __typename }`,
    `fragment F${depth} on Mutation { x: revokeToken(id: "1") }`,
  );
  assert.equal(counted(field), 2 ** depth);
});
