/**
 * `npm start`: brings Berth up on this machine.
 *   0. (`prestart`, scripts/prestart.mjs) installs the npm packages when node_modules is missing or stale;
 *   1. finds Postgres and NATS >= 2.12.3 (DATABASE_URL / NATS_URL, else local defaults) and starts what
 *      is missing or too old (scripts/start/infra.ts says which it found);
 *   2. creates each service's role and database, owned by that role, CONNECT revoked from PUBLIC (passwords
 *      generated once under .berth/credentials/; the services apply their own migrations on start);
 *   3. starts every service under services/ and waits for its health to answer SERVING (gRPC; the
 *      console's GET /healthz);
 *   4. registers a demo fleet on the simulator driver when no host exists yet;
 *   5. prints each service's health and endpoint, whether TLS is on, and the commands to try. Ctrl-C stops everything.
 * `npm start -- --tls` (or `npm start --tls`): a local CA and per-identity certificates under .berth/pki,
 * every service with mutual TLS (scripts/start/tls.ts, docs/security.md).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { maskUrl, maskUrlsIn } from '@berth/config';
import { credentialsDir, serviceDatabaseUrl } from './start/credentials.ts';
import { endpoints, ensureInfrastructure } from './start/infra.ts';
import { checkServiceHealth, discoverServices, endpointOf, startService, type ServiceManifest } from './start/services.ts';
import { registerDemoFleet } from './start/demo.ts';
import { startTls } from './start/tls.ts';

const root = new URL('..', import.meta.url).pathname;

async function waitHealthy(svc: ServiceManifest, address: string, child: ChildProcess, seconds = 90): Promise<string> {
  let last = 'UNREACHABLE';
  for (let i = 0; i < seconds * 2; i++) {
    if (child.exitCode !== null) return `EXITED (code ${child.exitCode})`;
    last = await checkServiceHealth(svc, address, 1000);
    if (last === 'SERVING') return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

async function main(): Promise<void> {
  const infra = await ensureInfrastructure(root, endpoints(), {
    natsPort: 4223,
    natsAuth: { dir: join(credentialsDir(root), 'nats'), mode: 'strict' },
    // Ctrl-C reaches the services, which drain their connections; the servers stop after them (stop below).
    ownProcessGroup: true,
  });
  const ep = { databaseUrl: infra.databaseUrl, natsUrl: infra.natsUrl };
  const services = discoverServices(root);
  // `npm start --tls` reaches the script as npm_config_tls=true; `npm start -- --tls` as an argument.
  const tls = startTls(root, process.argv.includes('--tls') || process.env['npm_config_tls'] === 'true', services);
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping Berth…');
    for (const c of children) c.kill('SIGTERM');
    // A service that does not stop within 15 s is killed; the servers stop after the services in any case.
    setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 15_000).unref();
    setTimeout(() => process.exit(code), 30_000).unref();
    void Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))))
      .then(() => infra.stop())
      .then(() => process.exit(code));
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  const rows: string[][] = [];
  for (const svc of services) {
    // The demo fleet runs on the simulator driver: the executor serves sim:// hosts unless told otherwise.
    const env: NodeJS.ProcessEnv = { EXECUTOR_SIMULATOR: 'on', ...process.env, NATS_URL: ep.natsUrl, ...tls.envFor(svc) };
    if (svc.database) env['DATABASE_URL'] = await serviceDatabaseUrl(root, ep.databaseUrl, svc.database);
    // Each service signs in to the private NATS as its own user (docs/security.md).
    // The console only follows events: it signs in as the read-only reader (infra/nats/permissions.json).
    if (infra.natsCredentials) env['NATS_CREDS'] = infra.natsCredentials.credsFile(svc.name === 'console' ? 'reader' : svc.name);
    const child = startService(root, svc, env);
    children.push(child);
    child.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(`service ${svc.name} exited (${signal ?? code}); stopping Berth`);
        stop(1);
      }
    });
    const address = `127.0.0.1:${svc.port}`;
    // The console may build its browser assets first (a fresh clone, or after an edit): give it longer.
    const health = await waitHealthy(svc, address, child, svc.health === 'http' ? 300 : 90);
    rows.push([svc.name, health, endpointOf(svc, address)]);
    if (health !== 'SERVING') {
      console.error(`service ${svc.name} is ${health} at ${address}`);
      stop(1);
      return;
    }
  }

  const demo = await registerDemoFleet(services);

  const w = [20, 12];
  console.log('\nBerth is up:\n');
  console.log(`  ${'SERVICE'.padEnd(w[0]!)}${'HEALTH'.padEnd(w[1]!)}ENDPOINT`);
  for (const [n, h, e] of rows) console.log(`  ${n!.padEnd(w[0]!)}${h!.padEnd(w[1]!)}${e}`);
  console.log(
    `\n  Postgres  ${maskUrl(ep.databaseUrl)}  (${infra.postgres})\n  NATS      ${ep.natsUrl}  (nats-server ${infra.natsVersion})`,
  );
  console.log(`\n  ${tls.banner}`);
  if (demo) console.log(`\n${demo}`);
  console.log(
    [
      '\nTry:',
      '  npx berth hosts list',
      '  npx berth vms create web-1 --vcpus 2 --memory 4GiB --wait',
      '  npx berth vms list',
      '  npx berth explain <vm-id>',
      '  npx berth what-if --vcpus 4 --memory 8GiB',
      '  npx berth config apply libs/hardware-config/fixtures/ticrypt-vm.conf',
      '\nCtrl-C stops Berth.',
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  console.error(maskUrlsIn(e instanceof Error ? e.message : String(e)));
  process.exit(1);
});
