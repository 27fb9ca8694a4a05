import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectTestNats, deletePrefixedStreams, eventually, infraAvailable, testSubjectPrefix } from '@berth/testing';
import { startConsumer, supportsFilterSubjects, type ConsumerOptions, type RunningConsumer } from './consumer.ts';
import { createEventPublisher } from './publisher.ts';
import { ack, nak } from './results.ts';
import { ensureStreams } from './streams.ts';
import { makeEvent } from './testing/jetstream.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A gate handlers wait on until the test opens it. */
function latch(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe.skipIf(!(await infraAvailable('nats')))('startConsumer with concurrency', () => {
  const prefix = testSubjectPrefix('tcc');
  const stream = `${prefix.toUpperCase()}_BERTH_INVENTORY`;
  let nc: NatsConnection;
  let publish: ReturnType<typeof createEventPublisher>;
  const running: RunningConsumer[] = [];
  let n = 0;

  beforeAll(async () => {
    nc = await connectTestNats();
    await ensureStreams(nc, { prefix });
    publish = createEventPublisher(nc, { service: 'inventory', prefix });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    publish.close();
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
  });

  /** Each test uses its own event type, so its durable sees only its own messages. */
  const start = async (type: string, handle: ConsumerOptions['handle'], extra: Partial<ConsumerOptions> = {}) => {
    n += 1;
    const durable = `conc-${n}`;
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
  const ackPending = async (durable: string): Promise<number> =>
    (await (await jetstreamManager(nc)).consumers.info(stream, durable)).num_ack_pending;

  it('handles up to `concurrency` messages at once, and no more', async () => {
    const gate = latch();
    let inFlight = 0;
    let most = 0;
    let done = 0;
    await start(
      'Overlap',
      async () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await gate.wait;
        inFlight -= 1;
        done += 1;
        return ack();
      },
      { concurrency: 4 },
    );
    for (let i = 0; i < 10; i++) await publish(makeEvent({ type: 'Overlap' })); // ten different streamIds
    await eventually(() => inFlight === 4, 'four handlers waiting on the latch', 20_000);
    await sleep(300);
    expect(inFlight).toBe(4);
    gate.open();
    await eventually(() => done === 10, 'all ten handled', 20_000);
    expect(most).toBe(4);
  });

  it('never overlaps messages of one streamId and handles them in delivery order, while keys run side by side', async () => {
    const active = new Set<string>();
    const overlaps: string[] = [];
    const seen = new Map<string, number[]>();
    let inFlight = 0;
    let most = 0;
    await start(
      'Keyed',
      async (env) => {
        if (active.has(env.streamId)) overlaps.push(env.streamId);
        active.add(env.streamId);
        inFlight += 1;
        most = Math.max(most, inFlight);
        await sleep(5 + Math.random() * 15);
        seen.set(env.streamId, [...(seen.get(env.streamId) ?? []), (env.data as { i: number }).i]);
        inFlight -= 1;
        active.delete(env.streamId);
        return ack();
      },
      { concurrency: 8 },
    );
    const keys = ['vm-a', 'vm-b', 'vm-c', 'vm-d'];
    const events = Array.from({ length: 40 }, (_, i) =>
      makeEvent({ type: 'Keyed', streamId: keys[i % keys.length]!, streamPosition: Math.floor(i / keys.length) + 1, data: { i } }),
    );
    await Promise.all(events.map((e) => publish(e))); // pipelined: the stream keeps this order
    await eventually(() => [...seen.values()].reduce((s, v) => s + v.length, 0) === 40, 'all forty handled', 30_000);
    expect(overlaps).toEqual([]);
    keys.forEach((k, j) => expect(seen.get(k)).toEqual(Array.from({ length: 10 }, (_, x) => x * keys.length + j)));
    expect(most).toBeGreaterThan(1);
  });

  it('serialises by a custom orderingKey', async () => {
    let inFlight = 0;
    let most = 0;
    const order: number[] = [];
    await start(
      'CustomKey',
      async (env) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await sleep(10);
        order.push((env.data as { i: number }).i);
        inFlight -= 1;
        return ack();
      },
      { concurrency: 8, orderingKey: (env) => (env.data as { vmId: string }).vmId },
    );
    // Different streams (e.g. host and VM reports) about one VM.
    for (let i = 0; i < 6; i++) await publish(makeEvent({ type: 'CustomKey', data: { vmId: 'vm-1', i } }));
    await eventually(() => order.length === 6, 'all six handled', 20_000);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(1);
  });

  it("redelivers a nak'd or failing message under concurrency and finally acks it", async () => {
    const deliveries = new Map<number, number[]>();
    const { durable } = await start(
      'Retried',
      async (env, ctx) => {
        const i = (env.data as { i: number }).i;
        deliveries.set(i, [...(deliveries.get(i) ?? []), ctx.deliveryCount]);
        await sleep(10);
        if (ctx.deliveryCount === 1 && i === 2) return nak(50);
        if (ctx.deliveryCount === 1 && i === 4) throw new Error('transient');
        return ack();
      },
      { concurrency: 4 },
    );
    for (let i = 0; i < 8; i++) await publish(makeEvent({ type: 'Retried', data: { i } }));
    await eventually(
      () => deliveries.size === 8 && deliveries.get(2)?.length === 2 && deliveries.get(4)?.length === 2,
      'redeliveries',
      20_000,
    );
    await eventually(async () => (await ackPending(durable)) === 0, 'every message acked', 10_000);
    expect(deliveries.get(2)).toEqual([1, 2]);
    expect(deliveries.get(4)).toEqual([1, 2]);
    for (const i of [0, 1, 3, 5, 6, 7]) expect(deliveries.get(i)).toEqual([1]);
  });

  it('stop() waits for every handler in hand, which still acks its message', async () => {
    const gate = latch();
    let inFlight = 0;
    let finished = 0;
    const { durable, consumer } = await start(
      'Stopping',
      async () => {
        inFlight += 1;
        await gate.wait;
        finished += 1;
        return ack();
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 3; i++) await publish(makeEvent({ type: 'Stopping' }));
    await eventually(() => inFlight === 3, 'three in hand', 20_000);
    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await sleep(300);
    expect(stopped).toBe(false);
    gate.open();
    await stopping;
    expect(finished).toBe(3);
    expect(await ackPending(durable)).toBe(0);
  });

  it('recreates its durable after deletion and keeps handling', async () => {
    const got = new Set<number>();
    const { durable, consumer } = await start('Recreated', async (env) => (got.add((env.data as { i: number }).i), ack()), {
      concurrency: 4,
    });
    for (let i = 0; i < 4; i++) await publish(makeEvent({ type: 'Recreated', data: { i } }));
    await eventually(() => got.size === 4, 'first deliveries', 20_000);
    await (await jetstreamManager(nc)).consumers.delete(stream, durable);
    for (let i = 4; i < 8; i++) await publish(makeEvent({ type: 'Recreated', data: { i } }));
    await eventually(() => got.size === 8, 'deliveries after deletion', 60_000);
    expect(consumer.recoveries).toBeGreaterThanOrEqual(1);
  });

  it('sizes max_ack_pending and the pull for the concurrency', async () => {
    const { durable } = await start('Sized', async () => ack(), { concurrency: 64 });
    const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
    expect(info.config.max_ack_pending).toBe(128);
  });

  it('handles only the types it was asked for: filtered by subject on servers that can, else judged by the Berth-Event-Type header', async () => {
    const typed = createEventPublisher(nc, { service: 'inventory', prefix, subjectFor: (e) => `berth.inventory.typed.${e.type}` });
    const seen: string[] = [];
    const { durable } = await start(
      'unused',
      async (env) => {
        seen.push(env.type);
        return ack();
      },
      { filterSubject: 'berth.inventory.typed.>', types: ['Wanted'], concurrency: 4 },
    );
    for (const type of ['Noise', 'Wanted', 'Noise', 'Other', 'Wanted']) await typed(makeEvent({ type }));
    // No type header. On nats-server >= 2.10 the durable filters on exactly the wanted types'
    // subjects, so this never arrives; on older servers it is read and handled, whatever its type.
    nc.publish(`${prefix}.berth.inventory.typed.Bare`, new TextEncoder().encode(JSON.stringify(makeEvent({ type: 'Bare' }))));
    const expected = supportsFilterSubjects(nc) ? ['Wanted', 'Wanted'] : ['Bare', 'Wanted', 'Wanted'];
    await eventually(
      async () => (seen.length === expected.length && (await ackPending(durable)) === 0 ? true : undefined),
      'wanted handled, the rest acknowledged or never delivered',
      20_000,
    );
    expect(seen.sort()).toEqual(expected);
    const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
    expect(info.num_pending + info.num_ack_pending).toBe(0);
    typed.close();
  });

  it('rejects a bad concurrency, orderingKey or types, naming the field', async () => {
    await expect(
      startConsumer({
        events: false, // made-up event types: the envelope is checked, not the catalog
        nc,
        stream: 'BERTH_INVENTORY',
        durable: 'ok',
        filterSubject: 'x',
        handle: async () => ack(),
        concurrency: 0,
        orderingKey: 'streamId' as unknown as ConsumerOptions['orderingKey'],
        types: [''],
      }),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      violations: [
        { field: 'concurrency', reason: 'must be an integer 1..1024' },
        { field: 'orderingKey', reason: 'must be a function' },
        { field: 'types', reason: 'must be non-empty strings' },
      ],
    });
  });
});
