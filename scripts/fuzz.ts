/**
 * The fuzz tests alone, with more runs than `npm test` gives them:
 *   npm run fuzz -- --runs 200 [--seed N]
 * Runs per property for the gRPC fuzzer (FUZZ_RUNS, per RPC and input kind) and the configuration
 * fuzzer (CONFIG_FUZZ_RUNS), then the event fuzzer once; against Postgres and NATS >= 2.12.3 (with-infra).
 */
import { spawn } from 'node:child_process';

const argv = process.argv.slice(2);
const value = (flag: string): string | undefined => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const runs = Number(value('--runs') ?? 100);
const seed = value('--seed');
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run fuzz -- --runs N [--seed S]   (N: an integer >= 1)');
  process.exit(2);
}
const env = {
  ...process.env,
  FUZZ_RUNS: String(runs),
  CONFIG_FUZZ_RUNS: String(runs * 10),
  REQUIRE_INFRA: '1',
  ...(seed ? { FUZZ_SEED: seed } : {}),
};
const run = (args: string[]): Promise<number> =>
  new Promise((resolve) => spawn('npx', args, { env, stdio: 'inherit' }).once('exit', (c) => resolve(c ?? 1)));

let failed = 0;
failed += await run(['vitest', 'run', '--project', 'unit', 'libs/hardware-config/src/fuzz.unit.spec.ts']);
failed += await run([
  'tsx',
  'scripts/with-infra.ts',
  'npx',
  'vitest',
  'run',
  '--project',
  'e2e',
  '--maxWorkers=1',
  'test/fuzz-grpc.e2e.spec.ts',
  'test/fuzz-events.e2e.spec.ts',
]);
console.log(failed === 0 ? `fuzz: passed with ${runs} runs per property` : 'fuzz: FAILED (see the counterexample and seed above)');
process.exit(failed === 0 ? 0 : 1);
