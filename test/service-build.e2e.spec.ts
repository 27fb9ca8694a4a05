/**
 * scripts/service-build.mjs (issue 16): the services built as JavaScript run when the build is fresh,
 * find their files where the sources are, keep npm packages as imports, and give way to the sources
 * under tsx as soon as a source changes. On a small tree of its own (a service and a library) with
 * the real esbuild and node.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServices, buildStaleness, serviceCommand } from '../scripts/service-build.mjs';
import { repoRoot } from './harness/service.ts';

let root: string;
const lib = (): string => join(root, 'libs', 'thing', 'src', 'index.ts');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'berth-service-build-'));
  mkdirSync(join(root, 'services', 'demo', 'src'), { recursive: true });
  mkdirSync(join(root, 'libs', 'thing', 'src'), { recursive: true });
  // The repository's packages, so an npm import resolves as in the real tree.
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'libs', 'thing', 'data.json'), '{"answer":42}\n');
  writeFileSync(
    lib(),
    [
      "import { readFileSync } from 'node:fs';",
      "import { z } from 'zod';",
      'export const here: string = import.meta.url;',
      "export const answer = (): number => z.object({ answer: z.number() }).parse(JSON.parse(readFileSync(new URL('../data.json', import.meta.url), 'utf8'))).answer;",
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'services', 'demo', 'src', 'main.ts'),
    "import { answer, here } from '../../../libs/thing/src/index.ts';\nconsole.log(JSON.stringify({ here, answer: answer() }));\n",
  );
  await buildServices(root);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('services built as JavaScript', () => {
  it('runs the built entry while the build is fresh; its files are found next to the sources', () => {
    expect(buildStaleness(root)).toBeUndefined();
    const cmd = serviceCommand(root, 'demo', ['--single-threaded-gc']);
    expect(cmd.built).toBe(true);
    expect(cmd.args).toEqual(['--single-threaded-gc', join(root, '.berth', 'build', 'services', 'demo', 'src', 'main.mjs')]);
    const run = spawnSync(cmd.command, cmd.args, { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ here: pathToFileURL(lib()).href, answer: 42 });
  });

  it('keeps npm packages as imports of the files Node resolves, not bundled', () => {
    const built = readFileSync(join(root, '.berth', 'build', 'services', 'demo', 'src', 'main.mjs'), 'utf8');
    expect(built).toMatch(/from "[^"]*\/node_modules\/zod\/[^"]+"/);
    expect(built).not.toContain('ZodObject');
  });

  it('runs the sources under tsx when asked to', () => {
    process.env['BERTH_RUN_FROM_SOURCE'] = '1';
    try {
      expect(serviceCommand(root, 'demo').built).toBe(false);
    } finally {
      delete process.env['BERTH_RUN_FROM_SOURCE'];
    }
  });

  it('gives way to the sources under tsx once a source changed, and a new build is fresh again', async () => {
    writeFileSync(lib(), `${readFileSync(lib(), 'utf8')}\nexport const changed = true;\n`);
    expect(buildStaleness(root)).toBe('libs/thing/src/index.ts changed since the build');
    const cmd = serviceCommand(root, 'demo');
    expect(cmd.built).toBe(false);
    expect(cmd.args).toEqual(['--import', 'tsx', join(root, 'services', 'demo', 'src', 'main.ts')]);
    await buildServices(root);
    expect(serviceCommand(root, 'demo').built).toBe(true);
  });

  it('is stale when a service was added after the build', () => {
    mkdirSync(join(root, 'services', 'other', 'src'), { recursive: true });
    writeFileSync(join(root, 'services', 'other', 'src', 'main.ts'), 'console.log(1);\n');
    expect(buildStaleness(root)).toBe('service other is not in the build');
  });
});

describe("observability's register entry in the build", () => {
  let tree: string;
  beforeAll(async () => {
    tree = mkdtempSync(join(tmpdir(), 'berth-service-build-preload-'));
    symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'));
    mkdirSync(join(tree, 'libs', 'observability', 'src'), { recursive: true });
    mkdirSync(join(tree, 'libs', 'client', 'src'), { recursive: true });
    // As the real register.ts: first in main.ts; it must run before any package the service imports.
    writeFileSync(join(tree, 'libs', 'observability', 'src', 'register.ts'), 'Reflect.set(globalThis, "__registered", true);\n');
    // As grpc-js under grpc-kit: an npm package (kept an import) that, when loaded, sees whether register ran.
    mkdirSync(join(tree, 'libs', 'client', 'node_modules', 'probe'), { recursive: true });
    writeFileSync(join(tree, 'libs', 'client', 'node_modules', 'probe', 'package.json'), '{"name":"probe","main":"index.js"}\n');
    writeFileSync(
      join(tree, 'libs', 'client', 'node_modules', 'probe', 'index.js'),
      'module.exports = { registeredFirst: globalThis.__registered === true };\n',
    );
    writeFileSync(
      join(tree, 'libs', 'client', 'src', 'index.ts'),
      "import probe from 'probe';\nexport const { registeredFirst } = probe;\n",
    );
    // Two services sharing register and the client: without an entry of its own, register's code shares a
    // chunk with the client's, whose package import ESM evaluates first.
    for (const name of ['demo', 'other']) {
      mkdirSync(join(tree, 'services', name, 'src'), { recursive: true });
      writeFileSync(
        join(tree, 'services', name, 'src', 'main.ts'),
        "import '../../../libs/observability/src/register.ts';\nimport { registeredFirst } from '../../../libs/client/src/index.ts';\nconsole.log(JSON.stringify({ registeredFirst }));\n",
      );
    }
    await buildServices(tree);
  });
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it('is preloaded with --import, so it runs before the packages the service imports', () => {
    const cmd = serviceCommand(tree, 'demo');
    const preload = pathToFileURL(join(tree, '.berth', 'build', 'libs', 'observability', 'src', 'register.mjs')).href;
    expect(cmd.args).toEqual(['--import', preload, join(tree, '.berth', 'build', 'services', 'demo', 'src', 'main.mjs')]);
    const run = spawnSync(cmd.command, cmd.args, { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ registeredFirst: true });
  });
});
