// Conventions both API schemas keep, checked on the schemas the server builds from their one
// source each (src/control-plane/graphql/user.graphql and agent.graphql).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEnumType } from 'graphql';
import { createAgentSchema } from '../../../src/control-plane/graphql/agent-schema.js';
import { createUserSchema } from '../../../src/control-plane/graphql/user-schema.js';

test('every enum value in both schemas is UPPER_CASE (GraphQL convention)', () => {
  for (const [api, schema] of [
    ['user', createUserSchema()],
    ['agent', createAgentSchema()],
  ] as const) {
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isEnumType(type) || type.name.startsWith('__')) continue;
      for (const v of type.getValues()) {
        assert.match(v.name, /^[A-Z][A-Z0-9_]*$/, `${api} schema: ${type.name}.${v.name} is not UPPER_CASE`);
      }
    }
  }
});
