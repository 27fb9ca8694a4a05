#!/usr/bin/env node
// `npm test`: type-check the whole workspace (one tsc program) and lint every project (Nx, cached),
// then run the Vitest projects one after the other — unit, int (files side by side), e2e (one file
// at a time, each starts real processes) — and print the counts of the whole run.
// `npm test -- unit int` runs only those projects; `--no-static` skips type-check and lint.
// With REQUIRE_INFRA=1 (CI) missing Postgres, NATS or libvirt fails the run instead of skipping.
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const args = process.argv.slice(2);
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(cmd, cmdArgs) {
  console.log(`\n$ ${cmd.replace(root, '')} ${cmdArgs.join(' ')}`);
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return r.status ?? 1;
}

if (!args.includes('--no-static')) {
  if (run(bin('tsc'), ['-p', 'tsconfig.json']) !== 0) {
    console.error('\nType-check failed.');
    process.exit(1);
  }
  if (run(bin('nx'), ['run-many', '-t', 'lint', '--outputStyle=static']) !== 0) {
    console.error('\nLint failed.');
    process.exit(1);
  }
}

const requested = args.filter((a) => !a.startsWith('--'));
const projects = requested.length > 0 ? requested : ['unit', 'int', 'e2e'];
const perProject = { unit: [], int: ['--maxWorkers=2', '--minWorkers=1'], e2e: ['--no-file-parallelism'] };
const reportDir = join(root, '.berth', 'test-reports');
rmSync(reportDir, { recursive: true, force: true });
mkdirSync(reportDir, { recursive: true });

const totals = { passed: 0, failed: 0, skipped: 0, files: 0, total: 0 };
let failedRun = false;
for (const project of projects) {
  const report = join(reportDir, `${project}.json`);
  const status = run(bin('vitest'), [
    'run', '--project', project, ...(perProject[project] ?? []), '--passWithNoTests',
    '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
  ]);
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`${project}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped (${r.testResults.length} files)`);
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests;
    totals.skipped += skipped;
    totals.files += r.testResults.length;
    totals.total += r.numTotalTests;
    // A file that fails to load counts no test but fails the run.
    if (status !== 0 || r.numFailedTestSuites > 0) failedRun = true;
  } catch (e) {
    console.error(`${project}: could not read the test report: ${e.message}`);
    failedRun = true;
  }
}

console.log(`\nfiles: ${totals.files}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
if (totals.total === 0) {
  console.error('No test ran.');
  process.exit(1);
}
process.exit(failedRun || totals.failed > 0 ? 1 : 0);
