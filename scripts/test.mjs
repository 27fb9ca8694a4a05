#!/usr/bin/env node
// `npm test`: type-check and lint every project through Nx (cached), then run the unit,
// integration and end-to-end projects with Vitest, and print the counts of the whole run.
// With REQUIRE_INFRA=1 (CI) missing Postgres, NATS or libvirt fails the run instead of skipping.
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const args = process.argv.slice(2);

function run(cmd, cmdArgs) {
  console.log(`\n$ ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  return r.status ?? 1;
}

if (!args.includes('--no-static')) {
  const status = run('npx', ['nx', 'run-many', '-t', 'build', 'lint', '--outputStyle=static']);
  if (status !== 0) {
    console.error('\nType-check or lint failed.');
    process.exit(status);
  }
}

mkdirSync(join(root, '.berth'), { recursive: true });
const report = join(root, '.berth', 'vitest-report.json');
const projects = args.filter((a) => !a.startsWith('--'));
const projectArgs = projects.flatMap((p) => ['--project', p]);
const status = run('npx', ['vitest', 'run', ...projectArgs, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]);

try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`\nsuites: ${r.numTotalTestSuites}, files: ${r.testResults.length}`);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) {
    console.error('No test ran.');
    process.exit(1);
  }
} catch (e) {
  console.error(`Could not read the test report: ${e.message}`);
  process.exit(status || 1);
}
process.exit(status);
