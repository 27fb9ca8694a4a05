/**
 * A private Postgres for tests that crash it (the machine's shared one on :5432 is never stopped):
 * the machine's binaries (Debian's /usr/lib/postgresql/N/bin), a fresh cluster in a temp folder,
 * trust auth, a free port. `crash()` is `pg_ctl stop -m immediate` (no checkpoint, WAL replay on the
 * next start, exactly what a power cut leaves), `start()` brings the same cluster back.
 *
 *   const pg = await PrivatePostgres.start();
 *   ... pg.url('berth_inventory') ...
 *   await pg.crash(); await pg.start();
 *   await pg.destroy();
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './nats-server.ts';

const run = promisify(execFile);

/** The newest of the machine's Postgres binary folders (Debian's layout), or undefined. */
export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'postgres'))) return join(base, v, 'bin');
  return undefined;
}

/** Postgres refuses to run as root: as root, the user its data folder belongs to (`postgres`, else `nobody`). */
export function unprivilegedUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
      return { name, uid, gid };
    } catch {
      /* try the next user */
    }
  }
  throw new Error('running as root and no unprivileged user (postgres, nobody) exists to run Postgres');
}

export class PrivatePostgres {
  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb into a temp folder and start it on a free port. */
  static async start(): Promise<PrivatePostgres> {
    const bin = postgresBinDir();
    if (bin === undefined) throw new Error('no Postgres binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)');
    const dir = await mkdtemp(join(tmpdir(), 'berth-pg-'));
    const user = unprivilegedUser();
    if (user) chownSync(dir, user.uid, user.gid);
    const pg = new PrivatePostgres(bin, dir, await freePort());
    await pg.as('initdb', ['-D', pg.data, '-U', 'postgres', '--auth=trust', '--no-sync']);
    await pg.start();
    return pg;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  /** A connection URL for `database` (default `postgres`). */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the cluster (again) and waits until it accepts connections (after a crash: WAL replayed). */
  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=300`;
    await this.as('pg_ctl', ['start', '-D', this.data, '-w', '-t', '120', '-l', join(this.dir, 'postgres.log'), '-o', opts]);
  }

  /** An immediate shutdown: every backend killed, no checkpoint; the next start replays the WAL. */
  async crash(): Promise<void> {
    await this.as('pg_ctl', ['stop', '-D', this.data, '-m', 'immediate', '-w']);
  }

  /** Stops it (fast) and removes its folder. */
  async destroy(): Promise<void> {
    await this.as('pg_ctl', ['stop', '-D', this.data, '-m', 'fast', '-w']).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async as(tool: string, args: string[]): Promise<void> {
    const user = unprivilegedUser();
    const cmd = join(this.bin, tool);
    const [file, argv] = user ? ['runuser', ['-u', user.name, '--', cmd, ...args]] : [cmd, args];
    try {
      await run(file, argv, { cwd: this.dir, timeout: 180_000 });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args.join(' ')}: ${err.stderr ?? ''}${err.stdout ?? ''}`.trim(), { cause: e });
    }
  }
}
