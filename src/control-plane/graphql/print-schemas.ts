// Prints both schemas' SDL; run directly to rewrite the committed files:
//   npx tsx src/control-plane/graphql/print-schemas.ts
import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { createAgentSchema } from './agent-schema.js';
import { createUserSchema } from './user-schema.js';

export const SDL_FILES = {
  user: new URL('./user.schema.graphql', import.meta.url),
  agent: new URL('./agent.schema.graphql', import.meta.url),
} as const;

export function printedSchemas(): { user: string; agent: string } {
  return { user: printSchema(createUserSchema()) + '\n', agent: printSchema(createAgentSchema()) + '\n' };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const p = printedSchemas();
  writeFileSync(SDL_FILES.user, p.user);
  writeFileSync(SDL_FILES.agent, p.agent);
  console.log('wrote', SDL_FILES.user.pathname, SDL_FILES.agent.pathname);
}
