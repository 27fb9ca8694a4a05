import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { EventEnvelope } from '@berth/contracts';
import { deletePrefixedStreams, eventually, infraAvailable, natsUrl, testSubjectPrefix } from '@berth/testing';
import { connectNats } from './connect.ts';
import { startConsumer, type ConsumerOptions, type RunningConsumer } from './consumer.ts';
import { DeadLetterHeaders } from './dead-letter.ts';
import { ensureDurable } from './durable.ts';
import { subjectName } from './names.ts';
import { createEventPublisher } from './publisher.ts';
import { ack, nak, term } from './results.ts';
import { ensureStreams } from './streams.ts';
import { lastDeadLetter, makeEvent } from './testing/jetstream.ts';

describe.skipIf(!(await infraAvailable('nats')))('startConsumer', () => {
  const prefix = testSubjectPrefix('tc');
  let nc: NatsConnection;
  let publish: ReturnType<typeof createEventPublisher>;
  const running: RunningConsumer[] = [];
  let n = 0;

  beforeAll(async () => {
    nc = await connectNats({ url: natsUrl(), name: 'messaging-consumer-test' });
    await ensureStreams(nc, { prefix });
    publish = createEventPublisher(nc, { service: 'inventory', prefix });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
  });

  /** Each test uses its own event type, so its durable sees only its own messages. */
  const start = async (type: string, handle: ConsumerOptions['handle'], extra: Partial<ConsumerOptions> = {}) => {
    n += 1;
    const durable = `test-${n}`;
    const c = await startConsumer({
      events: false, // made-up event types: the envelope is checked, not the catalog
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable,
      filterSubject: `berth.inventory.vm.*.${type}`,
      handle,
      backoffMillis: [50],
      ...extra,
    });
    running.push(c);
    return { durable, consumer: c };
  };

  it('delivers the envelope and acks it once', async () => {
    const got: EventEnvelope[] = [];
    const { durable } = await start('Acked', async (env) => (got.push(env), ack()));
    const e = makeEvent({ type: 'Acked', commandId: 'cmd-1' });
    await publish(e);
    await eventually(() => got.length === 1, 'delivery', 20_000);
    const { metadata: _m, ...envelope } = e;
    expect(got[0]).toEqual(envelope);
    const info = await (await jetstreamManager(nc)).consumers.info(`${prefix.toUpperCase()}_BERTH_INVENTORY`, durable);
    await eventually(
      async () => (await (await jetstreamManager(nc)).consumers.info(info.stream_name, durable)).num_ack_pending === 0,
      'ack',
      10_000,
    );
  });

  it('redelivers after nak with delay, with a growing delivery count', async () => {
    const counts: number[] = [];
    await start('Nakked', async (_env, ctx) => (counts.push(ctx.deliveryCount), ctx.deliveryCount < 3 ? nak(100) : ack()));
    await publish(makeEvent({ type: 'Nakked' }));
    await eventually(() => counts.length === 3, 'three deliveries', 20_000);
    expect(counts).toEqual([1, 2, 3]);
  });

  it('dead-letters a term result with its reason, and does not redeliver it', async () => {
    let calls = 0;
    const { durable } = await start('Termed', async () => (calls++, term('host h9 is unknown')));
    const e = makeEvent({ type: 'Termed' });
    await publish(e);
    const dl = await eventually(() => lastDeadLetter(nc, prefix, durable), 'dead letter', 20_000);
    expect(dl.header.get(DeadLetterHeaders.reason)).toBe('host h9 is unknown');
    expect(dl.header.get(DeadLetterHeaders.subject)).toBe(`${prefix}.berth.inventory.vm.default.Termed`);
    expect(dl.header.get('Berth-Event-Type')).toBe('Termed');
    expect(dl.json<EventEnvelope>().id).toBe(e.id);
    expect(calls).toBe(1);
  });

  it('terminates poison messages (bad JSON, invalid envelope) at once and dead-letters them', async () => {
    let calls = 0;
    const { durable } = await start('Poison', async () => (calls++, ack()));
    const js = jetstream(nc);
    await js.publish(`${prefix}.berth.inventory.vm.default.Poison`, '{not json');
    const first = await eventually(() => lastDeadLetter(nc, prefix, durable), 'dead letter', 20_000);
    expect(first.header.get(DeadLetterHeaders.reason)).toMatch(/^poison: unparseable JSON/);
    await js.publish(`${prefix}.berth.inventory.vm.default.Poison`, JSON.stringify({ id: 'x', type: 'Poison' }));
    const second = await eventually(
      async () => {
        const dl = await lastDeadLetter(nc, prefix, durable);
        return dl !== undefined && dl.seq !== first.seq ? dl : undefined;
      },
      'second dead letter',
      20_000,
    );
    expect(second.header.get(DeadLetterHeaders.reason)).toMatch(/^poison: invalid envelope: .*schemaVersion/);
    expect(second.header.get(DeadLetterHeaders.deliveries)).toBe('1');
    expect(calls).toBe(0);
  });

  it('dead-letters a message whose handler keeps failing after maxDeliver attempts', async () => {
    let calls = 0;
    const { durable } = await start(
      'Failing',
      async () => {
        calls++;
        throw new Error(`boom ${calls}`);
      },
      { maxDeliver: 3, backoffMillis: [20, 40] },
    );
    await publish(makeEvent({ type: 'Failing' }));
    const dl = await eventually(() => lastDeadLetter(nc, prefix, durable), 'dead letter', 20_000);
    expect(dl.header.get(DeadLetterHeaders.reason)).toBe('handler failed 3 times, last error: boom 3');
    expect(dl.header.get(DeadLetterHeaders.deliveries)).toBe('3');
    expect(calls).toBe(3);
  });

  it('keeps a slow handler that calls working() from being redelivered past the ack wait', async () => {
    const deliveries: number[] = [];
    let finished = 0;
    await start(
      'Slow',
      async (_env, ctx) => {
        deliveries.push(ctx.deliveryCount);
        // Three ack-wait periods long, reporting progress twice per period.
        for (let i = 0; i < 6; i++) {
          await new Promise((r) => setTimeout(r, 500));
          ctx.working();
        }
        finished++;
        return ack();
      },
      { ackWaitMillis: 1000 },
    );
    await publish(makeEvent({ type: 'Slow' }));
    await eventually(() => finished === 1, 'slow handler', 20_000);
    // A redelivery would have arrived while the handler ran (ack wait 1s) and be handled next.
    await new Promise((r) => setTimeout(r, 1500));
    expect(deliveries).toEqual([1]);
  });

  it('keeps messages waiting behind a slow one alive, so none is redelivered for having queued', async () => {
    const deliveries: number[] = [];
    await start(
      'Queued',
      async (_env, ctx) => {
        deliveries.push(ctx.deliveryCount);
        // Each handler reports its own progress; the ones queued behind it are kept alive by the consumer.
        for (let i = 0; i < 2; i++) {
          await new Promise((r) => setTimeout(r, 300));
          ctx.working();
        }
        return ack();
      },
      { ackWaitMillis: 1000, batchSize: 5 },
    );
    for (let i = 0; i < 5; i++) await publish(makeEvent({ type: 'Queued' }));
    // The fifth waits ~2.4 s, well past the 1 s ack wait.
    await eventually(() => deliveries.length >= 5, 'five deliveries', 20_000);
    await new Promise((r) => setTimeout(r, 1200));
    expect(deliveries).toEqual([1, 1, 1, 1, 1]);
  });

  it('stores a re-published event (same id) once: Nats-Msg-Id de-duplication', async () => {
    const got: string[] = [];
    await start('Dup', async (env) => (got.push(env.id), ack()));
    const e = makeEvent({ type: 'Dup' });
    const first = await publish(e);
    const second = await publish(e);
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);
    await publish(makeEvent({ type: 'Dup' }));
    await eventually(() => got.length === 2, 'deliveries', 20_000);
    expect(got[0]).toBe(e.id);
  });

  it('recreates its durable after it is deleted on the server and continues where it stopped', async () => {
    const got: number[] = [];
    const { durable, consumer } = await start('Deleted', async (env) => (got.push((env.data as { n: number }).n), ack()));
    const first = makeEvent({ type: 'Deleted' });
    await publish(first);
    await eventually(() => got.length === 1, 'first delivery', 20_000);
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(`${prefix.toUpperCase()}_BERTH_INVENTORY`, durable);
    const later = [makeEvent({ type: 'Deleted' }), makeEvent({ type: 'Deleted' })];
    for (const e of later) await publish(e);
    // At-least-once: a message whose ack had not reached the server when the durable vanished may
    // come again; nothing is lost or reordered.
    await eventually(() => new Set(got).size >= 3, 'deliveries after deletion', 60_000);
    expect([...new Set(got)]).toEqual([first, ...later].map((e) => (e.data as { n: number }).n));
    expect(consumer.recoveries).toBeGreaterThanOrEqual(1);
    expect((await jsm.consumers.info(`${prefix.toUpperCase()}_BERTH_INVENTORY`, durable)).config.durable_name).toBe(durable);
  });

  it("dead-letters, when it stops, a message still waiting for its turn at the server's last delivery (a nak would have it dropped)", async () => {
    const stream = `${prefix.toUpperCase()}_BERTH_INVENTORY`;
    // maxDeliver 1: the server delivers a message twice at most (max_deliver = maxDeliver + 1).
    const options = { maxDeliver: 1, ackWaitMillis: 10_000 };
    const seen: string[] = [];
    let letGo!: () => void;
    const blocked = new Promise<void>((resolve) => (letGo = resolve));
    const first = makeEvent({ type: 'LastWaiting' });
    const last = makeEvent({ type: 'LastWaiting' });
    // The durable as startConsumer makes it (unchanged when the consumer starts), with no pull of this process on it yet.
    const durable = 'test-last-waiting';
    const filterSubject = 'berth.inventory.vm.*.LastWaiting';
    const jsm = await jetstreamManager(nc);
    await ensureDurable(jsm, {
      stream,
      durable,
      filterSubject: subjectName(filterSubject, prefix),
      serverMaxDeliver: options.maxDeliver + 1,
      ackWaitMillis: options.ackWaitMillis,
      maxAckPending: 128,
    });
    // `last` delivered once elsewhere and nak'd with a delay: its next delivery is the server's last.
    await publish(last);
    const js = jetstream(nc);
    for await (const m of await (await js.consumers.get(stream, durable)).fetch({ max_messages: 1, expires: 5000 })) m.nak(2000);
    // `first` comes at once to the consumer and its handler holds it; `last` comes 2 s later and waits
    // behind it (one at a time) until the consumer stops.
    await publish(first);
    const c = await startConsumer({
      events: false,
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable,
      filterSubject,
      handle: async (env, ctx) => {
        seen.push(`${env.id}@${ctx.deliveryCount}`);
        if (env.id === first.id) await blocked;
        return ack();
      },
      backoffMillis: [50],
      ...options,
    });
    running.push(c);
    // Three deliveries: `last`, `first`, `last` again.
    await eventually(async () => (await jsm.consumers.info(stream, durable)).delivered.consumer_seq >= 3, 'the last delivery', 20_000);
    const stopped = c.stop();
    letGo();
    await stopped;
    expect(seen).toEqual([`${first.id}@1`]);
    const dl = await eventually(() => lastDeadLetter(nc, prefix, durable), 'the dead letter of the message at its last delivery', 10_000);
    expect(dl.json<EventEnvelope>().id).toBe(last.id);
    expect(dl.header.get(DeadLetterHeaders.deliveries)).toBe('2');
    expect(dl.header.get(DeadLetterHeaders.reason)).toBe(
      'delivery 2 exceeds maxDeliver 1: still waiting for its turn when the consumer stopped',
    );
    // Terminated on the server: nothing of this durable pending or unacknowledged.
    await eventually(
      async () => {
        const info = await jsm.consumers.info(stream, durable);
        return info.num_ack_pending === 0 && info.num_pending === 0;
      },
      'nothing left on the durable',
      10_000,
    );
  });

  it('rejects bad options with a typed error naming the field', async () => {
    await expect(
      startConsumer({ nc, stream: 'BERTH_INVENTORY', durable: 'bad.name', filterSubject: 'x', handle: async () => ack(), maxDeliver: 0 }),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      violations: [
        { field: 'durable', reason: expect.any(String) },
        { field: 'maxDeliver', reason: 'must be an integer >= 1' },
      ],
    });
  });

  it('copies original headers into the dead letter (e.g. traceparent)', async () => {
    const { durable } = await start('Headers', async () => term('nope'));
    const h = natsHeaders();
    h.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    await jetstream(nc).publish(`${prefix}.berth.inventory.vm.default.Headers`, JSON.stringify(makeEvent({ type: 'Headers' })), {
      headers: h,
    });
    const dl = await eventually(() => lastDeadLetter(nc, prefix, durable), 'dead letter', 20_000);
    expect(dl.header.get('traceparent')).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  });
});
