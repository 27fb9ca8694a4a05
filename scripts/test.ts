/**
 * `npm test` (after `pretest`, scripts/prestart.mjs, has installed the npm packages):
 *   1. set-up: the Debian packages the tests need (scripts/install-system-deps.sh, as CI runs it;
 *      installed when this runs as root on Debian, else it stops with the exact command), Postgres and
 *      a NATS server >= 2.12.3 (scripts/start/infra.ts: found, or started privately for this run);
 *   2. check the formatting (Prettier), type-check the whole workspace (one tsc program) and lint
 *      every project (Nx, cached);
 *   3. the Vitest projects one after the other — unit, int (files side by side), e2e (one file at a
 *      time, each starts real processes, all of them with mutual TLS) — and the counts of the whole run.
 * Missing infrastructure fails the run (REQUIRE_INFRA=1). Tests are skipped only when asked for by
 * name: BERTH_SKIP_HYPERVISOR_TESTS=1 skips the libvirt and QEMU suites, and the closing line says so.
 * Any other skipped test fails the run.
 *   `npm test -- unit int`  only those projects;  `--no-static`  no type-check and lint;
 *   `--no-setup`  use DATABASE_URL / NATS_URL as they are (no packages, no servers started);
 *   `--no-tls`  the e2e files in plaintext (by default they run with mutual TLS, BERTH_TEST_TLS=1).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { NATS_CREDENTIALS_ENV } from '@berth/testing';
import { endpoints, ensureInfrastructure, productionNatsServerBin, type Infrastructure } from './start/infra.ts';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const SKIP_VAR = 'BERTH_SKIP_HYPERVISOR_TESTS';
const skipHypervisor = process.env[SKIP_VAR] === '1';
const env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', REQUIRE_INFRA: '1' };
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

function run(cmd: string, cmdArgs: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): number {
  const shown = Object.entries(extraEnv).map(([k, v]) => `${k}=${v} `);
  console.log(`\n$ ${shown.join('')}${cmd.replace(root, '')} ${cmdArgs.join(' ')}`);
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env: { ...env, ...extraEnv }, stdio: 'inherit' });
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return r.status ?? 1;
}

/** The Debian packages: installed as root, else stop with the command that installs them. */
function systemPackages(): void {
  const r = spawnSync('bash', [join(root, 'scripts', 'install-system-deps.sh')], { cwd: root, env, stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status === 0) return;
  process.stderr.write(r.stderr);
  const howTo = skipHypervisor
    ? `(${SKIP_VAR}=1 is set, but Postgres and NATS tests need their packages too)`
    : `or, to run without the libvirt and QEMU tests: ${SKIP_VAR}=1 npm test`;
  console.error(`\nThe tests need Debian packages that are not installed. Run:\n\n  sudo bash scripts/install-system-deps.sh\n\n${howTo}`);
  process.exit(1);
}

interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
  numFailedTestSuites: number;
  testResults: { name: string; assertionResults: { status: string; fullName: string }[] }[];
}

async function main(): Promise<number> {
  let infra: Infrastructure | undefined;
  let natsStore: string | undefined;
  if (!args.includes('--no-setup')) {
    console.log('== set-up');
    systemPackages();
    natsStore = mkdtempSync(join(tmpdir(), 'berth-test-nats-'));
    infra = await ensureInfrastructure(root, endpoints(), {
      natsStoreDir: natsStore,
      natsAuth: { dir: join(natsStore, 'credentials'), mode: 'prefixed' },
    });
    env['DATABASE_URL'] = infra.databaseUrl;
    env['NATS_URL'] = infra.natsUrl;
    // Services started by the e2e harness sign in as their own NATS users (test/harness/service.ts).
    if (infra.natsCredentials) env[NATS_CREDENTIALS_ENV] = infra.natsCredentials.dir;
    // Tests that stop, kill or freeze a server of their own run this one (@berth/testing PrivateNatsServer).
    env['NATS_SERVER_BIN'] = productionNatsServerBin(root);
    console.log(`tests run against nats-server ${infra.natsVersion} (${infra.natsUrl}); private servers: ${env['NATS_SERVER_BIN']}`);
  }
  try {
    return await tests();
  } finally {
    await infra?.stop();
    if (natsStore) rmSync(natsStore, { recursive: true, force: true });
  }
}

async function tests(): Promise<number> {
  if (!args.includes('--no-static')) {
    if (run(bin('prettier'), ['--check', '.', '--log-level', 'warn']) !== 0) {
      console.error('\nFormat check failed: run `npm run format`.');
      return 1;
    }
    // The console's browser code (DOM and JSX) is its own program beside the workspace's.
    if (run(bin('tsc'), ['-p', 'tsconfig.json']) !== 0 || run(bin('tsc'), ['-p', 'services/console/web/tsconfig.json']) !== 0) {
      console.error('\nType-check failed.');
      return 1;
    }
    if (run(bin('nx'), ['run-many', '-t', 'lint', '--outputStyle=static']) !== 0) {
      console.error('\nLint failed.');
      return 1;
    }
  }

  const requested = args.filter((a) => !a.startsWith('--'));
  const projects = requested.length > 0 ? requested : ['unit', 'int', 'e2e'];
  const perProject: Record<string, string[]> = { unit: [], int: ['--maxWorkers=2', '--minWorkers=1'], e2e: ['--no-file-parallelism'] };
  // The e2e files run once, with mutual TLS between every process (test/harness/tls.ts); int tests cover plaintext.
  const projectEnv: Record<string, NodeJS.ProcessEnv> = { e2e: args.includes('--no-tls') ? {} : { BERTH_TEST_TLS: '1' } };
  const reportDir = join(root, '.berth', 'test-reports');
  rmSync(reportDir, { recursive: true, force: true });
  mkdirSync(reportDir, { recursive: true });

  const totals = { passed: 0, failed: 0, skipped: 0, files: 0, total: 0 };
  const skippedFiles = new Map<string, number>();
  let failedRun = false;
  for (const project of projects) {
    const report = join(reportDir, `${project}.json`);
    const status = run(
      bin('vitest'),
      [
        'run',
        '--project',
        project,
        ...(perProject[project] ?? []),
        '--passWithNoTests',
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${report}`,
      ],
      projectEnv[project],
    );
    try {
      const r = JSON.parse(readFileSync(report, 'utf8')) as JsonReport;
      const skipped = r.numPendingTests + r.numTodoTests;
      console.log(`${project}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped (${r.testResults.length} files)`);
      totals.passed += r.numPassedTests;
      totals.failed += r.numFailedTests;
      totals.skipped += skipped;
      totals.files += r.testResults.length;
      totals.total += r.numTotalTests;
      for (const file of r.testResults) {
        const n = file.assertionResults.filter((a) => a.status === 'pending' || a.status === 'skipped' || a.status === 'todo').length;
        if (n > 0) skippedFiles.set(relative(root, file.name), n);
      }
      // A file that fails to load counts no test but fails the run.
      if (status !== 0 || r.numFailedTestSuites > 0) failedRun = true;
    } catch (e) {
      console.error(`${project}: could not read the test report: ${e instanceof Error ? e.message : String(e)}`);
      failedRun = true;
    }
  }

  console.log(`\nfiles: ${totals.files}`);
  const where = [...skippedFiles].map(([f, n]) => `${f} (${n})`).join(', ');
  let closing = `${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`;
  if (totals.skipped > 0) {
    closing += skipHypervisor
      ? ` — skipped because ${SKIP_VAR}=1 asked for no libvirt/QEMU tests: ${where}`
      : ` — NOT asked for (only ${SKIP_VAR}=1 may skip, and only the libvirt/QEMU tests): ${where}`;
    if (!skipHypervisor) failedRun = true;
  }
  console.log(closing);
  if (totals.total === 0) {
    console.error('No test ran.');
    return 1;
  }
  return failedRun || totals.failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
