import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

export interface StaticFile {
  readonly type: string;
  readonly raw: Buffer;
  readonly gzip: Buffer;
  readonly br: Buffer;
  /** Hashed file names (assets/) never change: cache them for a year. */
  readonly immutable: boolean;
}

/** The built UI, read and compressed once at start-up (a few hundred kB). */
export function loadAssets(dir: string): Map<string, StaticFile> {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`${dir}/index.html is missing: build the console (npm run build -w @berth/console)`);
  }
  const files = new Map<string, StaticFile>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const raw = readFileSync(path);
        const rel = `/${relative(dir, path)}`;
        files.set(rel, {
          type: TYPES[extname(name)] ?? 'application/octet-stream',
          raw,
          gzip: gzipSync(raw, { level: 9 }),
          br: brotliCompressSync(raw),
          immutable: rel.startsWith('/assets/'),
        });
      }
    }
  };
  walk(dir);
  return files;
}
