// One lint config for the workspace, with type information (STYLE.md §13) and the
// module boundaries of DESIGN.md: domain code imports no I/O library, services never
// import each other (only libs, the contracts among them).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioLibraries = ['node:*', 'kysely', 'pg', '@nats-io/*', '@grpc/*', 'pino', '@opentelemetry/*',
  '@berth/event-store', '@berth/messaging', '@berth/grpc-kit', '@berth/observability', '@berth/testing', '@berth/hypervisor'];
const services = ['inventory', 'scheduler', 'placement-executor', 'migration', 'telemetry'];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.berth/**', 'libs/contracts/src/gen/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ['services/*/src/**/*.ts', 'tools/*/src/**/*.ts', 'libs/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: services.map((s) => `**/services/${s}/**`), message: 'Services never import each other; share through libs/contracts.' },
          { group: services.map((s) => `@berth/${s}`), message: 'Services never import each other; share through libs/contracts.' },
        ],
      }],
    },
  },
  {
    files: ['services/*/src/domain/**/*.ts', 'libs/fit/src/**/*.ts', 'libs/scoring/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ioLibraries, message: 'Domain code is pure: no I/O libraries (STYLE.md §10).' }],
      }],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', '**/bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
