import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { testSubjectPrefix } from '@berth/testing';
import { connectNats } from './connect.ts';
import { startConsumer, type RunningConsumer } from './consumer.ts';
import { createEventPublisher } from './publisher.ts';
import { ack } from './results.ts';
import { ensureStreams } from './streams.ts';
import { eventually, makeEvent } from './test-helpers.ts';

const NATS_SERVER = '/usr/sbin/nats-server';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A private nats-server (never the shared one), so the test may kill and restart it. */
class PrivateNats {
  private proc: ChildProcess | undefined;
  constructor(readonly port: number, readonly storeDir: string) {}
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], { stdio: 'ignore' });
    const probe = await eventually(async () => {
      try {
        const nc = await connectNats({ url: this.url, name: 'probe', maxReconnectAttempts: 0, timeoutMillis: 500 });
        await nc.close();
        return true;
      } catch {
        return undefined;
      }
    }, 15_000, 'private nats-server');
    expect(probe).toBe(true);
  }
  /** Freezes the server (SIGSTOP) for a while: the connection stays open but heartbeats stop. */
  async freeze(millis: number): Promise<void> {
    this.proc?.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, millis));
    this.proc?.kill('SIGCONT');
  }
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

describe.skipIf(!existsSync(NATS_SERVER))('consumer across a NATS server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-nats-'));
  let server: PrivateNats | undefined;
  let nc: NatsConnection | undefined;
  let consumer: RunningConsumer | undefined;
  const lastPrefix = testSubjectPrefix('tr');
  const got: string[] = [];

  afterAll(async () => {
    await consumer?.stop();
    await nc?.close();
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps consuming after the server is killed and restarted', async () => {
    server = new PrivateNats(await freePort(), dir);
    await server.start();
    const prefix = lastPrefix;
    nc = await connectNats({ url: server.url, name: 'messaging-restart-test' });
    await ensureStreams(nc, { prefix });
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    consumer = await startConsumer({
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable: 'restart-test',
      filterSubject: 'berth.inventory.>',
      handle: async (env) => (got.push(env.id), ack()),
      expiresMillis: 2000,
    });
    const before = makeEvent();
    await publish(before);
    await eventually(() => got.length === 1, 20_000, 'delivery before restart');

    await server.kill();
    await server.start();
    const after = makeEvent();
    // The publisher sees errors until the client has reconnected; Nats-Msg-Id makes retries safe.
    await eventually(async () => {
      try {
        await publish(after);
        return true;
      } catch {
        return undefined;
      }
    }, 30_000, 'publish after restart');
    await eventually(() => got.includes(after.id), 60_000, 'delivery after restart');
    expect(got).toEqual([before.id, after.id]);
  });

  it('recreates its pull after missed heartbeats (server frozen longer than two heartbeats)', async () => {
    const recoveries = consumer!.recoveries;
    await server!.freeze(4000);
    await eventually(() => consumer!.recoveries > recoveries, 30_000, 'recovery after missed heartbeats');
    const publish = createEventPublisher(nc!, { service: 'inventory', prefix: lastPrefix });
    const e = makeEvent();
    await publish(e);
    await eventually(() => got.includes(e.id), 30_000, 'delivery after freeze');
  });
});
