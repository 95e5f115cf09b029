// The committed SDL files must match the schemas the server builds; regenerate them with
// `npx tsx src/control-plane/graphql/print-schemas.ts` (then prettier) after a deliberate schema change.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildSchema, isEnumType, printSchema } from 'graphql';
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

test('every enum value in both schemas is UPPER_CASE (GraphQL convention)', () => {
  const printed = printedSchemas();
  for (const api of ['user', 'agent'] as const) {
    const schema = buildSchema(printed[api]);
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isEnumType(type) || type.name.startsWith('__')) continue;
      for (const v of type.getValues()) {
        assert.match(v.name, /^[A-Z][A-Z0-9_]*$/, `${api} schema: ${type.name}.${v.name} is not UPPER_CASE`);
      }
    }
  }
});
