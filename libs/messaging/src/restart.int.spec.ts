import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { eventually, NATS_SERVER_BIN, PrivateNatsServer, testSubjectPrefix } from '@berth/testing';
import { connectNats } from './connect.ts';
import { startConsumer, type RunningConsumer } from './consumer.ts';
import { createEventPublisher } from './publisher.ts';
import { ack } from './results.ts';
import { ensureStreams } from './streams.ts';
import { makeEvent } from './testing/jetstream.ts';

/** Until `f` resolves (the client reconnecting, the server coming up): its errors meanwhile are expected. */
const succeeds = (what: string, f: () => Promise<unknown>) =>
  eventually(
    async () => {
      try {
        await f();
        return true;
      } catch {
        return undefined;
      }
    },
    what,
    30_000,
  );

describe.skipIf(!existsSync(NATS_SERVER_BIN))('consumer across a NATS server restart', () => {
  let server: PrivateNatsServer | undefined;
  let nc: NatsConnection | undefined;
  let consumer: RunningConsumer | undefined;
  const lastPrefix = testSubjectPrefix('tr');
  const got: string[] = [];

  afterAll(async () => {
    await consumer?.stop();
    await nc?.close();
    await server?.destroy();
  });

  it('keeps consuming after the server is killed and restarted', async () => {
    server = await PrivateNatsServer.start();
    const prefix = lastPrefix;
    nc = await connectNats({ url: server.url, name: 'messaging-restart-test' });
    await ensureStreams(nc, { prefix });
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    consumer = await startConsumer({
      events: false, // made-up event types: the envelope is checked, not the catalog
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
    await eventually(() => got.length === 1, 'delivery before restart', 20_000);

    await server.kill();
    await server.start();
    const after = makeEvent();
    // The publisher sees errors until the client has reconnected; Nats-Msg-Id makes retries safe.
    await succeeds('publish after restart', () => publish(after));
    await eventually(() => got.includes(after.id), 'delivery after restart', 60_000);
    // At-least-once, as JetStream promises across a SIGKILL: the consumer's ack of `before` may not
    // have reached the server's disk (consumer state is written behind the stream's), so `before` may
    // come again — Berth's consumers deduplicate by event id. Nothing is lost, nothing else arrives,
    // and `after` is delivered after `before`.
    expect([...new Set(got)]).toEqual([before.id, after.id]);
  });

  it('recreates its pull after missed heartbeats (server frozen longer than two heartbeats)', async () => {
    const recoveries = consumer!.recoveries;
    await server!.freeze(4000);
    await eventually(() => consumer!.recoveries > recoveries, 'recovery after missed heartbeats', 30_000);
    const publish = createEventPublisher(nc!, { service: 'inventory', prefix: lastPrefix });
    const e = makeEvent();
    await publish(e);
    await eventually(() => got.includes(e.id), 'delivery after freeze', 30_000);
  });

  // The pull is bound (no consumer-info request on reconnect): a durable that vanished with the
  // server's store is found by the missed heartbeats and recreated, from the beginning of the new
  // stream (at the old sequence it would skip the new stream's first messages).
  it('recreates its durable when the server comes back without its store', async () => {
    const recoveries = consumer!.recoveries;
    await server!.kill();
    await rm(server!.dir, { recursive: true, force: true });
    await server!.start();
    // As an operator restoring the set-up would (npm start's administrator step).
    await succeeds('streams again', () => ensureStreams(nc!, { prefix: lastPrefix }));
    await eventually(() => consumer!.recoveries > recoveries, 'the durable recreated', 30_000);
    const publish = createEventPublisher(nc!, { service: 'inventory', prefix: lastPrefix });
    const e = makeEvent();
    await succeeds('publish to the new store', () => publish(e));
    await eventually(() => got.includes(e.id), 'delivery from the new store', 30_000);
  });
});
