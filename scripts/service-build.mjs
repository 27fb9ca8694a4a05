// The services as plain JavaScript, so a start does not transpile the tree (issue 16: a whole-plane
// restart under load spent most of its minutes in five `node --import tsx` processes compiling).
// Plain Node (prestart runs it right after npm install): esbuild, which tsx already installs, bundles
// every services/*/src/main.ts with the workspace's own code (@berth/*) into .berth/build/, one shared
// chunk per module set (code splitting), so the OpenTelemetry SDK's process-wide state stays one copy.
// npm packages are not bundled: each import is kept as the absolute path Node would resolve from the
// importing file (libs/hypervisor has its own p-limit), so the same files load as under tsx.
// `import.meta.url` in a bundled file is replaced by the URL of its source file: the libraries find
// their files next to the sources (infra/nats/*.json, the console's dist/, telemetry's policies).
//
//   buildServices(root)        -> builds, writes the manifest; returns { millis, entries }
//   builtServiceEntry(root, n) -> the built main.mjs of service n when the build is fresh, else undefined
//
// Fresh means: built by this Node and esbuild, every source the bundle holds unchanged (size and mtime)
// and every external file it imports still there. Anything else runs the sources under tsx, as before.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

export const BUILD_DIR = '.berth/build';
const MANIFEST = 'manifest.json';
/**
 * Observability's side-effect entry, built as an entry of its own and given to node with --import:
 * in a bundle, ESM evaluates a chunk's imports before its code, and the chunk that holds
 * register.ts's code also imports @grpc/grpc-js (for grpc-kit), so grpc-js was loaded before the
 * instrumentation started and its client constructor was never patched (no trace context on
 * outgoing calls). Preloaded, it runs before anything the service imports, as under tsx.
 */
const PRELOAD = 'libs/observability/src/register.ts';

/** services/<name>/src/main.ts of every service, by name. */
export function serviceEntries(root) {
  const dir = join(root, 'services');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((n) => existsSync(join(dir, n, 'src', 'main.ts')))
      .map((n) => [n, join(dir, n, 'src', 'main.ts')]),
  );
}

function stamp(file) {
  const s = statSync(file);
  return `${s.size}:${Math.trunc(s.mtimeMs)}`;
}

export async function buildServices(root) {
  const started = Date.now();
  const { build } = await import('esbuild');
  const out = join(root, BUILD_DIR);
  rmSync(out, { recursive: true, force: true });
  const entries = serviceEntries(root);
  const preload = existsSync(join(root, PRELOAD)) ? join(root, PRELOAD) : undefined;
  const externals = new Set();
  const nodeModules = `${join(root, 'node_modules')}/`;
  const keepSourceUrl = {
    name: 'berth-source-url',
    setup(b) {
      // npm packages (and node builtins) stay imports, resolved now from the importer as Node would.
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.path.startsWith('@berth/') || isAbsolute(args.path) || args.pluginData === 'resolving') return undefined;
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        const r = await b.resolve(args.path, {
          resolveDir: args.resolveDir,
          kind: args.kind,
          importer: args.importer,
          pluginData: 'resolving',
        });
        if (r.errors.length > 0 || r.external) return { path: args.path, external: true };
        if (!r.path.includes('/node_modules/')) return undefined;
        externals.add(r.path);
        return { path: r.path, external: true };
      });
      b.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        if (args.path.startsWith(nodeModules)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        const contents = source.includes('import.meta.url')
          ? source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
          : source;
        return { contents, loader: 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
  const result = await build({
    absWorkingDir: root,
    entryPoints: [...Object.values(entries), ...(preload ? [preload] : [])],
    outbase: root,
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    // Node reads `main` (and `exports`), never `module`: resolve as it does, so the same files load.
    mainFields: ['main'],
    // No `module` condition either (esbuild's default has it, Node has not).
    conditions: [],
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    plugins: [keepSourceUrl],
  });
  const inputs = {};
  for (const file of Object.keys(result.metafile.inputs)) {
    const abs = join(root, file);
    if (existsSync(abs)) inputs[relative(root, abs)] = stamp(abs);
  }
  const manifest = {
    node: process.version,
    esbuild: (await import('esbuild')).version,
    builtAt: Date.now(),
    entries: Object.fromEntries(Object.keys(entries).map((n) => [n, join('services', n, 'src', 'main.mjs')])),
    ...(preload ? { preload: PRELOAD.replace(/\.ts$/, '.mjs') } : {}),
    inputs,
    externals: [...externals].sort(),
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, MANIFEST), JSON.stringify(manifest));
  return { millis: Date.now() - started, entries: Object.keys(entries) };
}

/** Why the build cannot be used (a sentence), or undefined when it is fresh. */
export function buildStaleness(root) {
  const file = join(root, BUILD_DIR, MANIFEST);
  if (!existsSync(file)) return 'not built';
  let m;
  try {
    m = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return 'manifest unreadable';
  }
  if (m.node !== process.version) return `built by Node ${m.node}, this is ${process.version}`;
  for (const [rel, s] of Object.entries(m.inputs)) {
    const abs = join(root, rel);
    if (!existsSync(abs) || stamp(abs) !== s) return `${rel} changed since the build`;
  }
  for (const ext of m.externals) if (!existsSync(ext)) return `${ext} is gone`;
  // A service added since the build.
  for (const name of Object.keys(serviceEntries(root))) if (m.entries[name] === undefined) return `service ${name} is not in the build`;
  return undefined;
}

/** The built entry of a service, when the build is fresh (a few hundred stat calls, at each start). */
export function builtServiceEntry(root, name) {
  if (process.env['BERTH_RUN_FROM_SOURCE'] === '1') return undefined;
  if (buildStaleness(root) !== undefined) return undefined;
  const m = JSON.parse(readFileSync(join(root, BUILD_DIR, MANIFEST), 'utf8'));
  const entry = m.entries[name];
  return entry === undefined ? undefined : join(root, BUILD_DIR, entry);
}

/**
 * How to run a service: plain `node <nodeArgs> --import <built register.mjs> <built main.mjs>` when the build is fresh, else
 * `node <nodeArgs> --import tsx services/<name>/src/main.ts` (the sources, compiled as they load).
 * Either way one process, whose pid is the service's own.
 */
export function serviceCommand(root, name, nodeArgs = []) {
  const built = builtServiceEntry(root, name);
  if (built !== undefined) {
    const { preload } = JSON.parse(readFileSync(join(root, BUILD_DIR, MANIFEST), 'utf8'));
    const first = preload === undefined ? [] : ['--import', pathToFileURL(join(root, BUILD_DIR, preload)).href];
    return { command: process.execPath, args: [...nodeArgs, ...first, built], built: true };
  }
  return {
    command: process.execPath,
    args: [...nodeArgs, '--import', 'tsx', join(root, 'services', name, 'src', 'main.ts')],
    built: false,
  };
}
