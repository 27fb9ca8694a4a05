// One lint config for the workspace, with type information (STYLE.md §13) and the boundaries of
// DESIGN.md, all as `no-restricted-imports`:
// - library directions from each project's Nx tags (`nx.tags` in its package.json, `npx nx show
//   project NAME`), checked the way Nx's enforce-module-boundaries checks them (that plugin has no
//   release matching the pinned nx 23.3.1, so the table below is applied here);
// - layers inside a service: domain imports neither application nor adapters, application does not
//   import adapters, generated proto types (`@berth/contracts`' gen namespaces) never reach a domain;
// - domain code imports no I/O library; services never import each other;
// - plain-JavaScript scripts (`.js`, `.mjs`) are linted too, without type information.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/** Which tags a project may depend on (by its own tag). An untagged project has no constraint yet. */
const DEPENDS_ON = {
  'type:base': ['type:base'],
  // The wire and event language stands on the ground floor.
  'type:contracts': ['type:base'],
  'type:domain': ['type:base', 'type:domain'],
  'type:infra': ['type:base', 'type:contracts', 'type:domain', 'type:infra'],
  'type:testing': ['type:base', 'type:contracts', 'type:domain', 'type:infra'],
  'type:service': ['type:base', 'type:contracts', 'type:domain', 'type:infra'],
  'type:app': ['type:base', 'type:contracts', 'type:domain', 'type:infra'],
  // System tests start the real processes: they may reach into services and the CLI.
  'type:e2e': ['type:base', 'type:contracts', 'type:domain', 'type:infra', 'type:testing', 'type:service', 'type:app'],
};
// Known breaches, named so they cannot grow (none today: contracts defines its own event model).
const PENDING = {};

const projects = ['libs', 'services', 'tools']
  .flatMap((dir) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).map((p) => join(dir, p)) : []))
  .concat(['test'])
  .filter((dir) => existsSync(join(root, dir, 'package.json')))
  .map((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    return { dir, name: pkg.name, tags: pkg.nx?.tags ?? [] };
  });

const ioLibraries = [
  'node:*',
  'kysely',
  'pg',
  '@nats-io/*',
  '@grpc/*',
  'pino',
  '@opentelemetry/*',
  '@berth/event-store',
  '@berth/messaging',
  '@berth/grpc-kit',
  '@berth/observability',
  '@berth/testing',
  '@berth/hypervisor',
];
const services = projects.filter((p) => p.dir.startsWith('services/')).map((p) => p.dir.slice('services/'.length));
// ts-proto's generated namespaces, as @berth/contracts exports them.
const generated = [
  'modelV1',
  'inventoryV1',
  'schedulerV1',
  'migrationV1',
  'telemetryV1',
  'executorV1',
  'testingV1',
  'grpcHealthV1',
  'grpcReflectionV1',
  'grpcReflectionV1alpha',
  'googleRpc',
];

const noServiceImports = [
  { group: services.map((s) => `**/services/${s}/**`), message: 'Services never import each other; share through libs/contracts.' },
  { group: services.map((s) => `@berth/${s}`), message: 'Services never import each other; share through libs/contracts.' },
];

/** The @berth packages a project may not import, by the tags table (tests may also use type:testing). */
function forbiddenFor(project, forTests = false) {
  const tag = project.tags.find((t) => t in DEPENDS_ON);
  if (tag === undefined) return [];
  const allowed = new Set([...DEPENDS_ON[tag], ...(forTests ? ['type:testing'] : [])]);
  return projects
    .filter((other) => other.name !== project.name && !other.tags.some((t) => allowed.has(t)))
    .map((other) => other.name)
    .filter((name) => !(PENDING[project.name] ?? []).includes(name));
}

const directionPatterns = (project, forbidden) =>
  forbidden.length === 0
    ? []
    : [
        {
          group: forbidden,
          message: `${project.name} (${project.tags.join(', ')}) may depend only on ${DEPENDS_ON[project.tags.find((t) => t in DEPENDS_ON)].join(', ')} (eslint.config.js).`,
        },
      ];

const domainPatterns = [
  { group: ioLibraries, message: 'Domain code is pure: no I/O libraries (STYLE.md §10).' },
  { group: ['**/application/**', '**/adapters/**'], message: 'The domain imports neither application nor adapters.' },
  { group: ['@berth/contracts/**', '**/gen/**'], message: 'Generated proto types never reach the domain; map them in an adapter.' },
];
const domainPaths = [
  { name: '@berth/contracts', importNames: generated, message: 'Generated proto types never reach the domain; map them in an adapter.' },
];
const applicationPatterns = [
  { group: ['**/adapters/**'], message: 'The application does not import adapters; it names ports that adapters implement.' },
];

/** One `no-restricted-imports` per file set: ESLint keeps only the last block's rule, so each block carries all that apply. */
const restrict = (files, patterns, paths = [], ignores = []) => ({
  files,
  ...(ignores.length > 0 && { ignores }),
  rules: { 'no-restricted-imports': ['error', { patterns, paths }] },
});

// Test code beside production code: specs, benchmarks and each package's `src/testing/` helpers
// (docs/conventions.md) may use @berth/testing.
const TEST_FILES = ['**/*.spec.ts', '**/bench/**', '**/testing/**'];

// Production code never imports a package's test helpers (its own `src/testing/` or `@berth/x/testing`).
const noTestHelpers = [
  {
    regex: '(^\\.{1,2}/|/src/|^@berth/[^/]+/)(\\.\\./)*testing/|^@berth/[^/]+/testing$',
    message: 'Test helpers (src/testing/) are for tests only (docs/conventions.md).',
  },
];

const boundaryBlocks = projects.flatMap((project) => {
  const services = project.dir.startsWith('test') ? [] : noServiceImports;
  const base = [...directionPatterns(project, forbiddenFor(project)), ...services, ...noTestHelpers];
  const src = `${project.dir}/src/**/*.ts`;
  const blocks = [
    restrict([src], base, [], TEST_FILES),
    restrict(
      TEST_FILES.map((g) => `${project.dir}/${g}`),
      [...directionPatterns(project, forbiddenFor(project, true)), ...services],
    ),
  ];
  if (project.tags.includes('type:domain')) {
    // Pure domain libraries take no I/O at all; hardware-config reads files (its loaders) but no generated types either.
    const pure = ['libs/fit', 'libs/scoring'].includes(project.dir) ? [domainPatterns[0]] : [];
    blocks.push(restrict([src], [...base, ...pure, domainPatterns[2]], domainPaths, ['**/*.spec.ts', '**/testing/**']));
  }
  if (project.tags.includes('type:service')) {
    blocks.push(restrict([`${project.dir}/src/domain/**/*.ts`], [...base, ...domainPatterns], domainPaths, ['**/*.spec.ts']));
    blocks.push(restrict([`${project.dir}/src/application/**/*.ts`], [...base, ...applicationPatterns], [], ['**/*.spec.ts']));
  }
  return blocks;
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.berth/**', '**/.nx/**', 'libs/contracts/src/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  ...boundaryBlocks,
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', '**/bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { ...globals.node }, sourceType: 'module' },
  },
);
