/**
 * Runs a command (a benchmark) against Postgres and a NATS server >= 2.12.3: found, or started privately
 * for the run (scripts/start/infra.ts), with DATABASE_URL, NATS_URL, NATS_SERVER_BIN and BERTH_NATS_CREDENTIALS
 * (the folder of the private server's per-service nkey seeds) set; prints which
 * versions it runs against, and stops what it started when the command ends.
 *   tsx scripts/with-infra.ts tsx test/bench/e2e.bench.ts --hosts 200
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_CREDENTIALS_ENV } from '@berth/testing';
import { endpoints, ensureInfrastructure, productionNatsServerBin } from './start/infra.ts';

const root = new URL('..', import.meta.url).pathname;
const [cmd, ...args] = process.argv.slice(2);
if (cmd === undefined) {
  console.error('usage: tsx scripts/with-infra.ts COMMAND [ARGS...]');
  process.exit(2);
}
const store = mkdtempSync(join(tmpdir(), 'berth-bench-nats-'));
// NATS users with the tests' prefixed permissions (@berth/messaging auth.ts); the seeds live as long as the run.
const infra = await ensureInfrastructure(root, endpoints(), {
  natsStoreDir: store,
  natsAuth: { dir: join(store, 'credentials'), mode: 'prefixed' },
});
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATABASE_URL: infra.databaseUrl,
  NATS_URL: infra.natsUrl,
  NATS_SERVER_BIN: productionNatsServerBin(root),
};
// The harness starts each service as its own NATS user from here (test/harness/service.ts).
if (infra.natsCredentials) env[NATS_CREDENTIALS_ENV] = infra.natsCredentials.dir;
console.log(`running against nats-server ${infra.natsVersion} (${infra.natsUrl}) and ${infra.postgres}`);
const child = spawn(cmd, args, { cwd: root, env, stdio: 'inherit' });
const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));
const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await infra.stop();
rmSync(store, { recursive: true, force: true });
process.exit(code);
