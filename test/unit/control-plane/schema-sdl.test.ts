// The committed SDL files must match the schemas the server builds; regenerate them with
// `npx tsx src/control-plane/graphql/print-schemas.ts` (then prettier) after a deliberate schema change.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildSchema, printSchema } from 'graphql';
import { printedSchemas, SDL_FILES } from '../../../src/control-plane/graphql/print-schemas.js';

test('committed user.schema.graphql and agent.schema.graphql match the built schemas', () => {
  const printed = printedSchemas();
  for (const api of ['user', 'agent'] as const) {
    // Re-printing the committed file makes the check immune to formatting (prettier) only.
    const committed = printSchema(buildSchema(readFileSync(SDL_FILES[api], 'utf8'))) + '\n';
    assert.equal(committed, printed[api], `${SDL_FILES[api].pathname} is stale: run the print-schemas script`);
  }
});

test('the agent schema is exactly the agreed contract', () => {
  const contract = readFileSync(
    new URL('../../../src/control-plane/graphql/agent-api.contract.graphql', import.meta.url),
    'utf8',
  );
  assert.equal(printedSchemas().agent, printSchema(buildSchema(contract)) + '\n');
});
