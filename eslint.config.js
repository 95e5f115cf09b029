// Lint config: typescript-eslint's type-aware rules on every TypeScript file.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Relative imports (any depth) of `dirs`. */
function zonePattern(dirs, message) {
  return {
    regex: `^(\\.\\./)+(src/)?(${dirs.map((d) => escape(d.replace(/^src\//, ''))).join('|')})(/|$)`,
    message,
  };
}

const zone = (files, dirs, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [zonePattern(dirs, message)] }] },
});

/** Several zones on the same files (one rule config per file: a later one would replace an earlier). */
const zones = (files, ...groups) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: groups.map(([dirs, message]) => zonePattern(dirs, message)) }],
  },
});

/** Shared modules workflow code may import values from: pure, and importing nothing but types. */
const WORKFLOW_SAFE = ['src/shared/workflow-contract.ts', 'src/shared/run-status.ts', 'src/shared/errors.ts'];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.build-test-*/',
      'test/fixtures/user-code/ts-features-copy-*/',
      'src/gen/',
      '.outpost/',
      'bench/results/',
      'docs/',
      'coverage/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-console': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'child_process', 'net', 'http'],
              message: 'Workflows must be deterministic: no I/O.',
            },
            {
              regex: `^\\.\\./(activities|src)/(?!(${WORKFLOW_SAFE.map((f) => escape(f.replace(/^src\//, '').replace(/\.ts$/, '.js'))).join('|')})$)`,
              message:
                'Import activities and shared code as types only (values only from the pure modules in WORKFLOW_SAFE).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // What the workflow bundle pulls in must stay deterministic: these import nothing at run time.
    files: WORKFLOW_SAFE,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '.*',
              message: 'A module workflows import is pure: type imports only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  // Import zones (issue 12): the control plane, the agent and user code are separate programs that
  // talk over APIs, never through each other's modules; activities reach the agent through ports.
  zone(
    ['src/control-plane/**/*.ts'],
    ['agent', 'user-code', 'activities', 'workflows'],
    'The control plane talks to agents and user code over APIs only.',
  ),
  // Inside the control plane: the store holds rows and SQL; the services layer above it composes
  // store calls into mutations that span tables, never the other way round.
  zones(
    ['src/control-plane/store/**/*.ts'],
    [
      ['agent', 'user-code', 'activities', 'workflows'],
      'The control plane talks to agents and user code over APIs only.',
    ],
    [['services'], 'The store never calls services/: mutations spanning tables live there, above it.'],
  ),
  zones(
    ['src/agent/**/*.ts'],
    [['control-plane', 'user-code'], 'The agent talks to the control plane and code servers over APIs only.'],
    [
      ['activities', 'workflows'],
      'The agent never imports its Temporal code: the composition root (src/cli/agent-root.ts) hands it in.',
    ],
  ),
  zone(
    ['src/user-code/**/*.ts'],
    ['control-plane', 'agent', 'activities', 'workflows'],
    'User code runs apart from Outpost: only src/shared/.',
  ),
  // Inside src/user-code/: the SDK (the `outpost/sdk` package) never pulls in the programs; the
  // code server and the run worker share only sdk/ and common/.
  ...[
    ['sdk', ['code-server', 'run-worker', 'common'], 'The SDK is the public package: it never imports the programs.'],
    ['common', ['code-server', 'run-worker'], 'common/ serves both programs: it imports neither.'],
    ['code-server', ['run-worker'], 'The code server and the run worker share only sdk/ and common/.'],
    ['run-worker', ['code-server'], 'The code server and the run worker share only sdk/ and common/.'],
  ].map(([dir, banned, message]) =>
    zones(
      [`src/user-code/${dir}/**/*.ts`],
      [['control-plane', 'agent', 'activities', 'workflows'], 'User code runs apart from Outpost: only src/shared/.'],
      [banned, message],
    ),
  ),
  zone(
    ['activities/**/*.ts'],
    ['src/agent', 'src/control-plane', 'src/user-code'],
    'Activities depend on src/shared/ and ports they declare, never src/agent/.',
  ),
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
