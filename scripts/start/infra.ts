/**
 * Finds Postgres and NATS for `npm start`: from DATABASE_URL / NATS_URL, else the local defaults.
 * When one is not answering it is started: with Docker Compose where an engine runs, else from the
 * local `postgres` / `nats-server` binaries with data under `.berth/` in the project, else we stop
 * with a message naming what to install.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'node:net';

export interface Endpoints {
  readonly databaseUrl: string;
  readonly natsUrl: string;
}

export function endpoints(env = process.env): Endpoints {
  return {
    databaseUrl: env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    natsUrl: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  };
}

export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const hostPort = (url: string, defaultPort: number): [string, number] => {
  const u = new URL(url);
  return [u.hostname || '127.0.0.1', Number(u.port || defaultPort)];
};

async function waitFor(what: string, probe: () => Promise<boolean>, seconds = 30): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up within ${seconds}s`);
}

function dockerEngine(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function findBinary(candidates: string[]): string | undefined {
  return candidates.find((c) => existsSync(c));
}

function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'postgres'))) return join(base, v, 'bin');
  return undefined;
}

/** Postgres refuses to run as root: run it as the `postgres` (or `nobody`) user with a data dir it owns. */
function asUser(): { cmdPrefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { cmdPrefix: [] };
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
      return { cmdPrefix: ['runuser', '-u', user, '--'], uid, gid };
    } catch {
      /* try the next user */
    }
  }
  throw new Error('running as root and no unprivileged user (postgres, nobody) exists to run Postgres');
}

async function startLocalPostgres(root: string, port: number): Promise<void> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('Postgres is not running and not installed: install it (Debian: apt-get install postgresql) or set DATABASE_URL');
  const data = join(root, '.berth', 'postgres');
  const { cmdPrefix, uid, gid } = asUser();
  const run = (args: string[]) => execFileSync(cmdPrefix[0] ?? args[0]!, [...cmdPrefix.slice(1), ...(cmdPrefix.length ? args : args.slice(1))], { stdio: 'inherit' });
  if (!existsSync(join(data, 'PG_VERSION'))) {
    mkdirSync(data, { recursive: true });
    if (uid !== undefined && gid !== undefined) chownSync(data, uid, gid);
    console.log(`initialising a project-local Postgres in ${data}`);
    run([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust']);
  }
  const sock = join(root, '.berth');
  writeFileSync(join(root, '.berth', 'postgres.port'), String(port));
  run([join(bin, 'pg_ctl'), '-D', data, '-l', join(sock, 'postgres.log'), '-o', `-p ${port} -k /tmp -c listen_addresses=127.0.0.1`, 'start']);
}

function startLocalNats(root: string, port: number): void {
  const bin = findBinary(['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']);
  if (!bin) throw new Error('NATS is not running and nats-server is not installed: install it (Debian: apt-get install nats-server) or set NATS_URL');
  const store = join(root, '.berth', 'nats');
  mkdirSync(store, { recursive: true });
  console.log(`starting a project-local nats-server with JetStream in ${store}`);
  const child = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store, '-l', join(root, '.berth', 'nats.log')], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  writeFileSync(join(root, '.berth', 'nats.pid'), String(child.pid));
}

export async function ensureInfrastructure(root: string, ep: Endpoints): Promise<void> {
  const [pgHost, pgPort] = hostPort(ep.databaseUrl, 5432);
  const [natsHost, natsPort] = hostPort(ep.natsUrl, 4222);
  const pgUp = () => tcpOpen(pgHost, pgPort);
  const natsUp = () => tcpOpen(natsHost, natsPort);
  const missing = [...((await pgUp()) ? [] : ['postgres']), ...((await natsUp()) ? [] : ['nats'])];
  if (missing.length === 0) {
    console.log(`Postgres ${pgHost}:${pgPort} and NATS ${natsHost}:${natsPort} are up`);
    return;
  }
  if (dockerEngine()) {
    console.log(`starting ${missing.join(' and ')} with Docker Compose`);
    execFileSync('docker', ['compose', 'up', '-d', ...missing], { cwd: root, stdio: 'inherit' });
  } else {
    mkdirSync(join(root, '.berth'), { recursive: true });
    if (missing.includes('postgres')) await startLocalPostgres(root, pgPort);
    if (missing.includes('nats')) startLocalNats(root, natsPort);
  }
  await waitFor(`Postgres on ${pgHost}:${pgPort}`, pgUp);
  await waitFor(`NATS on ${natsHost}:${natsPort}`, natsUp);
}
