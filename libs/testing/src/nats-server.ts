import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';

/** The machine's nats-server (Debian bookworm: 2.9.10), for tests that run a private one. */
export const NATS_SERVER_BIN = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

/**
 * A nats-server >= 2.10 (the production line; `filter_subjects` and more): NATS_SERVER_210_BIN, else
 * where scripts/fetch-nats-server.sh puts Debian trixie's build. It is not installed system-wide.
 */
export const NATS_SERVER_210_BIN = process.env['NATS_SERVER_210_BIN'] ?? '/var/cache/berth/nats-server-2.10.27/nats-server';

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

/** A private JetStream server (tests that stop and restart it, or need another version than the machine's shared one). */
export class PrivateNatsServer {
  private proc: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly bin: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(bin: string = NATS_SERVER_BIN): Promise<PrivateNatsServer> {
    const s = new PrivateNatsServer(await freePort(), await mkdtemp(join(tmpdir(), 'berth-nats-')), bin);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    this.proc = spawn(this.bin, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        const nc = await connect({ servers: this.url, timeout: 500, maxReconnectAttempts: 0 });
        await nc.close();
        return;
      } catch {
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
