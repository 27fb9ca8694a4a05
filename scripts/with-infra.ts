/**
 * Runs a command (a benchmark) against Postgres and a NATS server >= 2.12.3: found, or started privately
 * for the run (scripts/start/infra.ts), with DATABASE_URL, NATS_URL and NATS_SERVER_BIN set; prints which
 * versions it runs against, and stops what it started when the command ends.
 *   tsx scripts/with-infra.ts tsx test/bench/e2e.bench.ts --hosts 200
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpoints, ensureInfrastructure, productionNatsServerBin } from './start/infra.ts';

const root = new URL('..', import.meta.url).pathname;
const [cmd, ...args] = process.argv.slice(2);
if (cmd === undefined) {
  console.error('usage: tsx scripts/with-infra.ts COMMAND [ARGS...]');
  process.exit(2);
}
const store = mkdtempSync(join(tmpdir(), 'berth-bench-nats-'));
const infra = await ensureInfrastructure(root, endpoints(), { natsStoreDir: store });
const env = { ...process.env, DATABASE_URL: infra.databaseUrl, NATS_URL: infra.natsUrl, NATS_SERVER_BIN: productionNatsServerBin(root) };
console.log(`running against nats-server ${infra.natsVersion} (${infra.natsUrl}) and ${infra.postgres}`);
const child = spawn(cmd, args, { cwd: root, env, stdio: 'inherit' });
const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));
const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await infra.stop();
rmSync(store, { recursive: true, force: true });
process.exit(code);
