#!/usr/bin/env node
// `prestart` / `pretest`: a fresh clone needs nothing before `npm start` or `npm test`. Plain Node, no
// dependencies (it runs before there are any): installs the npm packages when node_modules is missing
// or older than package-lock.json (npm writes node_modules/.package-lock.json on every install), then
// builds the services as JavaScript when that build is missing or stale (scripts/service-build.mjs), so
// starting them compiles nothing. If the build fails the services run from the sources under tsx.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');

const stale = () =>
  !existsSync(installed) || !existsSync(join(root, 'node_modules', '.bin', 'tsx')) || statSync(installed).mtimeMs < statSync(lock).mtimeMs;

if (stale()) {
  console.log(existsSync(installed) ? 'package-lock.json changed: npm install' : 'no node_modules yet: npm install');
  const started = Date.now();
  // `npm install`, not `npm ci`: the registry reachable on some machines lacks other platforms'
  // optional binaries, which `npm ci` insists on finding.
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('npm install failed; fix the error above, then run the command again.');
    process.exit(r.status ?? 1);
  }
  console.log(`npm packages installed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

const { buildServices, buildStaleness } = await import('./service-build.mjs');
const why = buildStaleness(root);
if (why !== undefined) {
  try {
    const { millis, entries } = await buildServices(root);
    console.log(`services built as JavaScript (${why}): ${entries.length} in ${(millis / 1000).toFixed(1)} s, .berth/build/`);
  } catch (e) {
    console.warn(`building the services failed; they run from the sources under tsx: ${e instanceof Error ? e.message : String(e)}`);
  }
}
