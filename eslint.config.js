// ESLint flat config: TypeScript's recommended rules for the server-side workspaces, and the rule
// that keeps workflow code deterministic (no Node built-ins, no I/O libraries in workflows/).
// web/ is checked by its own tooling (svelte-check), except its end-to-end tests.
import js from '@eslint/js';
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

/** Node's built-in modules, bare and with `node:`, and their subpaths (fs/promises…). */
const nodeBuiltins = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '').split('/')[0]))];

/** Libraries that do I/O: workflows reach them only through activities. */
const ioLibraries = [
  'dockerode',
  'pg',
  'drizzle-orm',
  'simple-git',
  'nodemailer',
  'proxmox-api',
  'smtp-server',
  'tar-stream',
  '@keelson/db',
  '@keelson/activities',
  '@keelson/workers',
  '@keelson/api',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
];

const workflowMessage =
  'workflow code must be deterministic: no Node built-ins or I/O libraries (call an activity; `import type` is fine)';

export default tseslint.config(
  {
    ignores: [
      'web/*',
      '!web/e2e',
      '**/node_modules/**',
      '.tools/**',
      '.data/**',
      '.cache/**',
      'db/migrations/**',
      '**/dist/**',
      '**/build/**',
      'bench/results/**',
      'test-artifacts/**',
    ],
  },
  {
    files: ['{common,db,workflows,activities,workers,api,bench,scripts,test,tools}/**/*.ts', 'web/e2e/**/*.ts', '*.ts', '*.js'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
    },
    rules: {
      // TypeScript checks names itself (and knows Node's globals from @types/node).
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: workflowMessage, allowTypeImports: true })),
            ...ioLibraries.map((name) => ({ name, message: workflowMessage, allowTypeImports: true })),
            // The codec, env parsing and the data converter use node:crypto and process.env.
            ...['@keelson/common/codec', '@keelson/common/env', '@keelson/common/temporal'].map((name) => ({
              name,
              message: workflowMessage,
              allowTypeImports: true,
            })),
          ],
          patterns: [
            {
              group: ['node:*', ...nodeBuiltins.map((name) => `${name}/*`), ...ioLibraries.map((name) => `${name}/*`)],
              message: workflowMessage,
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
