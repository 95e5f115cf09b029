// src/gen/graphql/ must be what `npm run gen:graphql` renders from each API's one schema source
// and the agent's documents; a schema or document change without a re-run fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED, SCHEMA_SOURCES, generateGraphqlTypes } from '../../../scripts/gen-graphql.js';
import { renderGraphqlTypes } from '../../../scripts/graphql-types.js';

const APIS = ['user', 'agent'] as const;

test('committed src/gen/graphql/ matches a fresh render of the schemas and documents', () => {
  const fresh = generateGraphqlTypes();
  for (const api of APIS) {
    assert.equal(
      readFileSync(GENERATED[api], 'utf8'),
      fresh[api],
      `${GENERATED[api]} is stale: run npm run gen:graphql`,
    );
  }
});

test('the drift check fails when a schema changes and the output was not regenerated', () => {
  for (const api of APIS) {
    // A new argument on an existing field, as the next schema change would add.
    const sdl = readFileSync(SCHEMA_SOURCES[api], 'utf8').replace(
      /(type Mutation \{\n(?:\s*"[^\n]*"\n)?\s*\w+\()/,
      '$1driftProbe: Int, ',
    );
    assert.notEqual(sdl, readFileSync(SCHEMA_SOURCES[api], 'utf8'), `${api}: the probe did not change the schema`);
    const changed = generateGraphqlTypes({ [api]: sdl })[api];
    assert.notEqual(changed, readFileSync(GENERATED[api], 'utf8'), `${api}: a schema change went unnoticed`);
    assert.match(changed, /driftProbe\?: number \| null;/);
  }
});

test('an agent document that does not fit the schema fails generation', () => {
  const sdl = readFileSync(SCHEMA_SOURCES.agent, 'utf8');
  const render = (documents: Record<string, string>): string =>
    renderGraphqlTypes({ sdl, source: 'agent.graphql', scalars: { JSON: 'unknown' }, documents });
  assert.throws(
    () => render({ Workspace: 'query Workspace($agentId: ID!) { workspace(agentId: $agentId) { nope } }' }),
    /nope/,
  );
  assert.throws(
    () => render({ Wrong: 'query Workspace($agentId: ID!) { workspace(agentId: $agentId) { name } }' }),
    /named Wrong/,
  );
  assert.match(
    render({ Workspace: 'query Workspace($agentId: ID!) { workspace(agentId: $agentId) { name version } }' }),
    /export type WorkspaceQuery = \{\n {2}workspace: Array<\{\n {4}name: string;\n {4}version: number;\n {2}\}>;\n\};/,
  );
});
