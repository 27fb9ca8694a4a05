import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const consoleRoot = fileURLToPath(new URL('..', import.meta.url));
const STAMP = join(consoleRoot, 'dist', 'index.html');

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** True when dist/ is missing or older than the UI's sources (web/, src/api.ts, the Vite config). */
export function assetsStale(): boolean {
  if (!existsSync(STAMP)) return true;
  const sources = Math.max(
    newest(join(consoleRoot, 'web')),
    statSync(join(consoleRoot, 'src', 'api.ts')).mtimeMs,
    statSync(join(consoleRoot, 'vite.config.ts')).mtimeMs,
  );
  return sources > statSync(STAMP).mtimeMs;
}

/**
 * Builds the browser assets with Vite when they are missing or stale (a fresh clone, or after an
 * edit), so `npm start`, the tests and the benchmark always serve what the sources say. ~10 s.
 */
export async function ensureConsoleAssets(log: (msg: string) => void = () => undefined): Promise<void> {
  if (!assetsStale()) return;
  const started = Date.now();
  const { build } = await import('vite');
  // Vite builds for the NODE_ENV it finds (vitest's `test` gave a development-flavoured bundle):
  // production, as `npm start` serves it, whoever asks.
  const nodeEnv = process.env['NODE_ENV'];
  process.env['NODE_ENV'] = 'production';
  try {
    await build({ configFile: join(consoleRoot, 'vite.config.ts'), logLevel: 'warn' });
  } finally {
    if (nodeEnv === undefined) delete process.env['NODE_ENV'];
    else process.env['NODE_ENV'] = nodeEnv;
  }
  log(`console assets built in ${Date.now() - started} ms`);
}
