import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.ts';

/** The proxy's faults as a client sees them, over a real echo server on loopback. */
describe('FaultProxy', () => {
  let echo: Server;
  let proxy: FaultProxy;
  beforeAll(async () => {
    echo = createServer((s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: (echo.address() as { port: number }).port });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((r) => echo.close(r));
  });

  const connect = async (): Promise<Socket> => {
    const s = createConnection({ host: '127.0.0.1', port: proxy.port });
    await once(s, 'connect');
    return s;
  };
  /** Sends `text` and resolves with what came back within `millis`, or undefined. */
  const roundTrip = (s: Socket, text: string, millis = 1000): Promise<string | undefined> =>
    new Promise((resolve) => {
      let got = '';
      const timer = setTimeout(() => done(undefined), millis);
      const onData = (b: Buffer): void => {
        got += b.toString();
        if (got.length >= text.length) done(got);
      };
      const done = (v: string | undefined): void => {
        clearTimeout(timer);
        s.off('data', onData);
        resolve(v);
      };
      s.on('data', onData);
      s.write(text);
    });

  it('passes bytes, and delays them by the latency set', async () => {
    const s = await connect();
    expect(await roundTrip(s, 'hello')).toBe('hello');
    proxy.latency(150);
    const t0 = Date.now();
    expect(await roundTrip(s, 'slow')).toBe('slow');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    proxy.latency(0);
    s.destroy();
  });

  it('observe: sees what passes each way, in order, and nothing a partition still holds', async () => {
    const seen: string[] = [];
    const stop = proxy.observe((dir, b) => seen.push(`${dir}:${b.toString()}`));
    const s = await connect();
    expect(await roundTrip(s, 'ping')).toBe('ping');
    expect(seen).toEqual(['up:ping', 'down:ping']);
    proxy.partition();
    s.write('held');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(['up:ping', 'down:ping']);
    proxy.heal();
    await once(s, 'data');
    expect(seen).toEqual(['up:ping', 'down:ping', 'up:held', 'down:held']);
    stop();
    expect(await roundTrip(s, 'unseen')).toBe('unseen');
    expect(seen).toHaveLength(4);
    s.destroy();
  });

  it('reset: an open connection gets ECONNRESET', async () => {
    const s = await connect();
    expect(await roundTrip(s, 'a')).toBe('a');
    const err = once(s, 'error');
    proxy.reset();
    expect(((await err)[0] as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  it('black hole: connections stay open and silent, even after heal; new ones work after heal', async () => {
    const s = await connect();
    proxy.blackHole();
    expect(await roundTrip(s, 'lost', 500)).toBeUndefined();
    const t = await connect();
    expect(await roundTrip(t, 'lost too', 500)).toBeUndefined();
    proxy.heal();
    expect(await roundTrip(s, 'still', 500)).toBeUndefined();
    expect(s.destroyed).toBe(false);
    const u = await connect();
    expect(await roundTrip(u, 'back')).toBe('back');
    for (const x of [s, t, u]) x.destroy();
    expect(proxy.stats.droppedBytes).toBeGreaterThan(0);
  });

  it('partition: bytes and new connections wait, and arrive in order once healed', async () => {
    const s = await connect();
    proxy.partition();
    const pending = roundTrip(s, 'held-1', 3000);
    const t = await connect();
    const pendingNew = roundTrip(t, 'held-2', 3000);
    await new Promise((r) => setTimeout(r, 300));
    proxy.heal();
    expect(await pending).toBe('held-1');
    expect(await pendingNew).toBe('held-2');
    s.destroy();
    t.destroy();
  });
});
