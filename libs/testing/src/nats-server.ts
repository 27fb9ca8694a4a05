import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';

/** Folders where scripts/fetch-nats-server.sh keeps the production-line server it fetched. */
const CACHE_DIRS = [
  process.env['BERTH_CACHE_DIR'],
  '/var/cache/berth',
  join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'berth'),
];

function fetchedNatsServer(): string | undefined {
  for (const dir of CACHE_DIRS) {
    if (dir === undefined || !existsSync(dir)) continue;
    const found = readdirSync(dir)
      .filter((d) => /^nats-server-\d+\.\d+\.\d+$/.test(d) && existsSync(join(dir, d, 'nats-server')))
      .sort((a, b) => compareVersions(b.slice('nats-server-'.length), a.slice('nats-server-'.length)));
    if (found[0] !== undefined) return join(dir, found[0], 'nats-server');
  }
  return undefined;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * The nats-server tests run privately (PrivateNatsServer): NATS_SERVER_BIN (npm test sets it), else
 * the production-line server (>= 2.12.3; Debian forky/sid's 2.15.x) scripts/fetch-nats-server.sh
 * fetched, else the machine's /usr/sbin/nats-server.
 */
export const NATS_SERVER_BIN = process.env['NATS_SERVER_BIN'] ?? fetchedNatsServer() ?? '/usr/sbin/nats-server';

/** The version `bin --version` reports (`2.15.1`), or undefined when it does not run. */
export function natsServerBinVersion(bin: string = NATS_SERVER_BIN): string | undefined {
  try {
    return /v?(\d+\.\d+\.\d+)/.exec(execFileSync(bin, ['--version']).toString())?.[1];
  } catch {
    return undefined;
  }
}

/** Whether `bin` is on the production line (>= 2.12.3: `sync_interval: always`, the Jepsen fixes). */
export const isProductionLine = (bin: string = NATS_SERVER_BIN): boolean => {
  const v = natsServerBinVersion(bin);
  return v !== undefined && compareVersions(v, '2.12.3') >= 0;
};

// The same settings as npm start's and npm test's private server (sync_interval: always).
const PRIVATE_CONF = fileURLToPath(new URL('../../../infra/nats/private.conf', import.meta.url));

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => p.once('exit', () => resolve()));
}

/**
 * A private JetStream server (tests that stop, kill or freeze it). On the production line it runs with
 * infra/nats/private.conf (`sync_interval: always`), as npm start's and npm test's do.
 */
export class PrivateNatsServer {
  private proc: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly bin: string,
    readonly config?: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** `config`: a config file of its own (e.g. writeNatsCredentials' server.conf, with users) instead of private.conf. */
  static async start(bin: string = NATS_SERVER_BIN, options: { config?: string } = {}): Promise<PrivateNatsServer> {
    const s = new PrivateNatsServer(await freePort(), await mkdtemp(join(tmpdir(), 'berth-nats-')), bin, options.config);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    const conf =
      this.config !== undefined ? ['-c', this.config] : isProductionLine(this.bin) && existsSync(PRIVATE_CONF) ? ['-c', PRIVATE_CONF] : [];
    this.proc = spawn(this.bin, [...conf, '-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        const nc = await connect({ servers: this.url, timeout: 500, maxReconnectAttempts: 0 });
        await nc.close();
        return;
      } catch (e) {
        // A server with users refuses an anonymous client: it is up.
        if (e instanceof Error && /authorization/i.test(e.message)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`nats-server on ${this.url} did not start`);
  }

  /** Graceful stop (SIGTERM): the server flushes its store, as in a rolling restart. */
  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  /** Hard stop (SIGKILL): nothing flushed, as in a crash. */
  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p === undefined) return;
    p.kill(signal);
    await exited(p);
  }

  /** Freezes the server (SIGSTOP) for a while: connections stay open but heartbeats stop. */
  async freeze(millis: number): Promise<void> {
    this.proc?.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, millis));
    this.proc?.kill('SIGCONT');
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
