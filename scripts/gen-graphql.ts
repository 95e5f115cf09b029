// Writes src/gen/graphql/{user,agent}.ts from each API's one schema source
// (src/control-plane/graphql/{user,agent}.graphql) and the agent's documents
// (src/agent/control-plane-documents.ts):   npm run gen:graphql
// A unit test (test/unit/control-plane/graphql-gen.test.ts) fails when the output is stale.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AGENT_DOCUMENTS } from '../src/agent/control-plane-documents.js';
import {
  CodeLocationQueryValues,
  ComputeLogStreamValues,
  TokenKindValues,
} from '../src/control-plane/graphql/enum-values.js';
import { renderGraphqlTypes, type RenderOptions } from './graphql-types.js';

const at = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));

export const SCHEMA_SOURCES = {
  user: at('../src/control-plane/graphql/user.graphql'),
  agent: at('../src/control-plane/graphql/agent.graphql'),
} as const;

export const GENERATED = {
  user: at('../src/gen/graphql/user.ts'),
  agent: at('../src/gen/graphql/agent.ts'),
} as const;

/** Per-API options, minus the SDL (so a test can render a changed schema). */
export const API_OPTIONS: Record<keyof typeof GENERATED, Omit<RenderOptions, 'sdl'>> = {
  user: {
    source: 'src/control-plane/graphql/user.graphql',
    scalars: { JSON: 'unknown' },
    internalEnums: {
      ComputeLogStream: Object.values(ComputeLogStreamValues),
      CodeLocationQuery: Object.values(CodeLocationQueryValues),
      TokenKind: Object.values(TokenKindValues),
    },
  },
  agent: {
    source: 'src/control-plane/graphql/agent.graphql',
    scalars: { JSON: 'unknown' },
    internalEnums: { ComputeLogStream: Object.values(ComputeLogStreamValues) },
    documents: AGENT_DOCUMENTS,
    operationsInterface: 'AgentOperations',
  },
};

/** What each generated file must hold, rendered from the sources on disk (or `sdl` overrides). */
export function generateGraphqlTypes(
  sdl: Partial<Record<keyof typeof GENERATED, string>> = {},
): Record<keyof typeof GENERATED, string> {
  const render = (api: keyof typeof GENERATED): string =>
    renderGraphqlTypes({ ...API_OPTIONS[api], sdl: sdl[api] ?? readFileSync(SCHEMA_SOURCES[api], 'utf8') });
  return { user: render('user'), agent: render('agent') };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = generateGraphqlTypes();
  mkdirSync(at('../src/gen/graphql'), { recursive: true });
  for (const api of ['user', 'agent'] as const) {
    writeFileSync(GENERATED[api], out[api]);
    console.log('wrote', GENERATED[api]);
  }
}
