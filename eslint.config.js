// Lint config: typescript-eslint's type-aware rules on every TypeScript file.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Relative imports (any depth) of `dirs`, minus `allowed` exact specifiers. */
function zonePattern(dirs, message, allowed = []) {
  const except = allowed.length ? `(?!${allowed.map((a) => `${escape(a)}$`).join('|')})` : '';
  return {
    regex: `^${except}(\\.\\./)+(src/)?(${dirs.map((d) => escape(d.replace(/^src\//, ''))).join('|')})(/|$)`,
    message,
  };
}

const zone = (files, dirs, message, allowed = []) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [zonePattern(dirs, message, allowed)] }] },
});

/** Several zones on the same files (one rule config per file: a later one would replace an earlier). */
const zones = (files, ...groups) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: groups.map(([dirs, message]) => zonePattern(dirs, message)) }],
  },
});

/** Today's cross-zone imports: allowed exactly (an error for any other), each shown as a warning. */
function knownViolations(byFile) {
  const dirsOf = (file) =>
    file.startsWith('activities/')
      ? ['src/agent', 'src/control-plane', 'src/user-code']
      : ['agent', 'user-code', 'activities', 'workflows'];
  return Object.entries(byFile).map(([file, allowed]) => ({
    files: [file],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [zonePattern(dirsOf(file), 'Cross-zone import not on the allow-list.', allowed)] },
      ],
      '@typescript-eslint/no-restricted-imports': [
        'warn',
        {
          paths: allowed.map((name) => ({
            name,
            message: 'Known cross-zone import, allowed until the issue 12 ports refactor (eslint.config.js).',
          })),
        },
      ],
    },
  }));
}

/** Shared modules workflow code may import values from: pure, and importing nothing but types. */
const WORKFLOW_SAFE = ['src/shared/workflow-contract.ts', 'src/shared/run-status.ts', 'src/shared/errors.ts'];

export default tseslint.config(
  { ignores: ['node_modules/', 'src/gen/', '.outpost/', 'bench/results/', 'docs/', 'coverage/'] },
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
  ...knownViolations({
    'src/control-plane/core/partition-key.ts': ['../../user-code/sdk/partitions.js'],
  }),
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
