import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ConcurrencyError, IllegalStateError, ValidationError } from '@berth/errors';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import {
  createKysely,
  evolveStored,
  handleCommand,
  migrateEventStore,
  PostgresEventStore,
  type AnyKysely,
  type EventStreams,
  type NewEvent,
} from './index.ts';

type Counter = { readonly n: number };
type CounterEvent = { readonly type: 'Incremented'; readonly data: { readonly by: number } };

describe.skipIf(!(await infraAvailable('postgres')))('PostgresEventStore', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;

  beforeAll(async () => {
    tdb = await createTestDatabase('es_append');
    db = createKysely(tdb.url, { max: 6 });
    await migrateEventStore(db);
    await migrateEventStore(db); // idempotent
    store = new PostgresEventStore(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  it('appends with expected versions and reads the stream back in order', async () => {
    expect(await store.readStream('vm-a')).toEqual({ version: 0, events: [] });
    const first = await store.append(
      'vm-a',
      [
        { type: 'A', data: { n: 1 } },
        { type: 'B', data: [2] },
      ],
      { expectedVersion: 'no-stream' },
    );
    expect(first.nextExpectedVersion).toBe(2);
    expect(first.events.map((e) => [e.streamPosition, e.type])).toEqual([
      [1, 'A'],
      [2, 'B'],
    ]);
    await store.append('vm-a', [{ type: 'C', data: 'three', schemaVersion: 2 }], { expectedVersion: 2 });
    const any = await store.append('vm-a', [{ type: 'D', data: null }], { expectedVersion: 'any' });
    expect(any.nextExpectedVersion).toBe(4);
    const { version, events } = await store.readStream('vm-a');
    expect(version).toBe(4);
    expect(events.map((e) => [e.streamPosition, e.type, e.data, e.schemaVersion])).toEqual([
      [1, 'A', { n: 1 }, 1],
      [2, 'B', [2], 1],
      [3, 'C', 'three', 2],
      [4, 'D', null, 1],
    ]);
    expect(events[0]).toEqual(first.events[0]);
  });

  it('rejects a wrong expected version with ConcurrencyError and writes nothing', async () => {
    await store.append('vm-b', [{ type: 'A', data: 1 }], { expectedVersion: 0 });
    for (const expectedVersion of ['no-stream', 0, 2, 5] as const) {
      const err = await store.append('vm-b', [{ type: 'X', data: 1 }], { expectedVersion }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConcurrencyError);
      expect((err as ConcurrencyError).actual).toBe(1);
    }
    const missing = await store.append('vm-none', [{ type: 'X', data: 1 }], { expectedVersion: 3 }).catch((e: unknown) => e);
    expect((missing as ConcurrencyError).actual).toBe(0);
    expect((await store.readStream('vm-b')).version).toBe(1);
    expect((await store.readStream('vm-none')).version).toBe(0);
  });

  it('answers a repeated command with the first result and appends nothing', async () => {
    const a = await store.append('vm-c', [{ type: 'A', data: 1 }], { expectedVersion: 'no-stream', commandId: 'cmd-c' });
    const again = await store.append('vm-c', [{ type: 'Other', data: 2 }], { expectedVersion: 7, commandId: 'cmd-c' });
    expect(again.duplicate).toBe(true);
    expect(again.events).toEqual(a.events);
    expect(again.nextExpectedVersion).toBe(1);
    expect((await store.readStream('vm-c')).version).toBe(1);
    expect((await store.commandResult('cmd-c'))?.appends.map((x) => x.events)).toEqual([a.events]);
    expect(await store.commandResult('never-sent')).toBeUndefined();
  });

  it('lets exactly one of concurrent identical commands append', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, async () => store.append('vm-d', [{ type: 'A', data: 1 }], { expectedVersion: 'any', commandId: 'cmd-d' })),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.events[0]!.id)).size).toBe(1);
    expect((await store.readStream('vm-d')).version).toBe(1);
  });

  it('a failed append does not consume its command id', async () => {
    await expect(store.append('vm-e', [{ type: 'A', data: 1 }], { expectedVersion: 4, commandId: 'cmd-e' })).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
    const r = await store.append('vm-e', [{ type: 'A', data: 1 }], { expectedVersion: 0, commandId: 'cmd-e' });
    expect(r.duplicate).toBe(false);
  });

  it('commits appends to several streams atomically, or none of them', async () => {
    await store.transaction(async (tx) => {
      await tx.append('host-1', [{ type: 'ResourcesClaimed', data: {} }], { expectedVersion: 0, commandId: 'claim-1' });
      await tx.append('vm-f', [{ type: 'VmPlaced', data: {} }], { expectedVersion: 0, commandId: 'claim-1' });
    });
    expect((await store.commandResult('claim-1'))?.appends.map((a) => a.streamId).sort()).toEqual(['host-1', 'vm-f']);
    const boom = new Error('boom');
    await expect(
      store.transaction(async (tx) => {
        await tx.append('host-1', [{ type: 'ResourcesClaimed', data: {} }], { expectedVersion: 1, commandId: 'claim-2' });
        await tx.append('vm-g', [{ type: 'VmPlaced', data: {} }], { expectedVersion: 0, commandId: 'claim-2' });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await store.readStream('host-1')).version).toBe(1);
    expect((await store.readStream('vm-g')).version).toBe(0);
    expect(await store.commandResult('claim-2')).toBeUndefined();
  });

  it.each([
    ['without', undefined],
    ['with', 'cmd-order'],
  ])('refuses an append that would put a stream out of global-read order (%s command id)', async (_name, commandId) => {
    const stream = `vm-h-${commandId ?? 'plain'}`;
    await store.append(stream, [{ type: 'A', data: 1 }], { expectedVersion: 0 });
    // The older transaction takes its id first; a newer one appends to the stream and commits before it.
    const err = await store
      .transaction(async (tx) => {
        await tx.append(`${stream}-other`, [{ type: 'A', data: 1 }], { expectedVersion: 0 });
        await store.append(stream, [{ type: 'B', data: 2 }], { expectedVersion: 1 });
        await tx.append(stream, [{ type: 'C', data: 3 }], { expectedVersion: 2, ...(commandId === undefined ? {} : { commandId }) });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConcurrencyError);
    expect((err as Error).message).toMatch(/newer transaction/);
    expect((await store.readStream(stream)).events.map((e) => e.type)).toEqual(['A', 'B']);
  });

  it('keeps a store in its own schema apart from the default one', async () => {
    await migrateEventStore(db, { schema: 'zone_b' });
    const zoned = new PostgresEventStore(db, { schema: 'zone_b' });
    expect(zoned.channel).toBe('berth_events_zone_b');
    await zoned.append('vm-a', [{ type: 'Z', data: 1 }], { expectedVersion: 0 });
    await zoned.append('vm-a', [{ type: 'Z', data: 2 }], { expectedVersion: 1, commandId: 'zone-cmd' });
    await zoned.transaction(async (tx) => tx.append('vm-a', [{ type: 'Z', data: 3 }], { expectedVersion: 2 }));
    expect((await zoned.readStream('vm-a')).events.map((e) => e.data)).toEqual([1, 2, 3]);
    // The global read waits for every older transaction in the cluster to finish (other tests run too).
    let all = await zoned.readAll({ after: null, limit: 10 });
    for (let i = 0; i < 100 && all.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      all = await zoned.readAll({ after: null, limit: 10 });
    }
    expect(all.map((e) => e.data)).toEqual([1, 2, 3]);
    expect((await store.readStream('vm-a')).events.every((e) => e.type !== 'Z')).toBe(true);
    expect(() => new PostgresEventStore(db, { schema: 'Bad-Name' })).toThrow(ValidationError);
  });

  it('turns bad input into ValidationError naming the field', async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [async () => store.append('', [{ type: 'A', data: 1 }], { expectedVersion: 'any' }), 'streamId'],
      [async () => store.append('s', [{ type: 'A', data: 1 }], { expectedVersion: -1 }), 'expectedVersion'],
      [async () => store.append('s', [{ type: 'A', data: { big: 1n } }], { expectedVersion: 'any' }), 'events[0].data'],
      [async () => store.append('s', [{ data: 1 } as unknown as NewEvent], { expectedVersion: 'any' }), 'events[0].type'],
      [async () => store.readStream(''), 'streamId'],
      [async () => store.readAll({ after: null, limit: -1 }), 'limit'],
      [async () => store.commandResult(''), 'commandId'],
    ];
    for (const [call, field] of cases) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).violations.map((v) => v.field)).toEqual([field]);
    }
    expect((await store.readStream('s')).version).toBe(0);
  });

  it('answers appends with the data and metadata a later read returns, without parsing plain JSON again', async () => {
    const plain = { nested: [{ deep: [1, 'x', null, true, {}] }], s: 'q"\\😀', big: 1e21, n: 0.1 };
    const odd = { at: new Date(0), gone: undefined, list: [1, undefined], neg: -0, map: new Map([[1, 2]]) };
    const events = [
      { type: 'Plain', data: plain },
      { type: 'Odd', data: odd },
      { type: 'Text', data: 'text', metadata: { who: 'op' } },
    ];
    const single = await store.append('vm-docs-1', events, { expectedVersion: 0 });
    const [batched] = await store.appendBatch([{ appends: [{ streamId: 'vm-docs-2', expectedVersion: 0, events }] }]);
    const fromBatch = batched!.outcome === 'ok' ? batched!.appends[0]!.events : [];
    for (const [streamId, answered] of [
      ['vm-docs-1', single.events],
      ['vm-docs-2', fromBatch],
    ] as const) {
      const read = (await store.readStream(streamId)).events;
      expect(answered.map((e) => [e.data, e.metadata])).toStrictEqual(read.map((e) => [e.data, e.metadata]));
      expect(answered[0]!.data).toBe(plain); // plain JSON data comes back as the object given
      expect(answered[1]!.data).toStrictEqual({ at: '1970-01-01T00:00:00.000Z', list: [1, null], neg: 0, map: {} });
    }
  });

  it('records the W3C trace context of the appending code in metadata', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
      const r = await context.with(trace.setSpanContext(context.active(), spanContext), async () =>
        store.append('vm-t', [{ type: 'A', data: 1, metadata: { actor: 'op' } }], { expectedVersion: 0 }),
      );
      const expected = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', actor: 'op' };
      expect(r.events[0]!.metadata).toEqual(expected);
      expect((await store.readStream('vm-t')).events[0]!.metadata).toEqual(expected);
    } finally {
      propagation.disable();
      context.disable();
    }
  });

  it('handleCommand folds, decides, appends, and retries only conflicts', async () => {
    const opts = {
      store,
      streamId: 'counter-1',
      initialState: (): Counter => ({ n: 0 }),
      evolve: evolveStored<Counter, CounterEvent>({ Incremented: true }, (s, e) => ({ n: s.n + e.data.by })),
      decide: (cmd: { by: number }, s: Counter): CounterEvent[] => {
        if (s.n + cmd.by > 10) throw new IllegalStateError('counter would pass 10');
        return [{ type: 'Incremented', data: { by: cmd.by } }];
      },
    };
    let appends = 0;
    // Another writer slips in between the first load and its append.
    const racing: EventStreams = {
      readStream: async (id) => store.readStream(id),
      commandResult: async (id) => store.commandResult(id),
      append: async (id, events, o) => {
        if (appends++ === 0) await store.append('counter-1', [{ type: 'Incremented', data: { by: 1 } }], { expectedVersion: 'any' });
        return store.append(id, events, o);
      },
    };
    await store.append('counter-1', [{ type: 'Incremented', data: { by: 1 } }], { expectedVersion: 0 });
    const r = await handleCommand({ ...opts, store: racing, command: { by: 2 }, commandId: 'inc-1' });
    expect(appends).toBe(2);
    expect(r.state).toEqual({ n: 4 });
    expect(r.nextExpectedVersion).toBe(3);
    const again = await handleCommand({ ...opts, command: { by: 2 }, commandId: 'inc-1' });
    expect(again.duplicate).toBe(true);
    expect(again.events.map((e) => e.id)).toEqual(r.events.map((e) => e.id));
    expect(again.state).toEqual({ n: 4 });
    await expect(handleCommand({ ...opts, command: { by: 7 } })).rejects.toBeInstanceOf(IllegalStateError);
    const noop = await handleCommand({ ...opts, decide: () => [], command: { by: 0 } });
    expect(noop).toMatchObject({ events: [], state: { n: 4 }, duplicate: false });
  });

  it('handleCommand on a known state appends in one round trip; a stream that moved on, a repeated command id or a refusal take the ordinary path', async () => {
    const calls: string[] = [];
    const counting: EventStreams = {
      readStream: async (id, c) => (calls.push('read'), store.readStream(id, c)),
      commandResult: async (id, c) => (calls.push('lookup'), store.commandResult(id, c)),
      append: async (id, events, o) => (calls.push('append'), store.append(id, events, o)),
    };
    const opts = {
      store: counting,
      streamId: 'counter-3',
      initialState: (): Counter => ({ n: 0 }),
      evolve: evolveStored<Counter, CounterEvent>({ Incremented: true }, (s, e) => ({ n: s.n + e.data.by })),
      decide: (cmd: { by: number }, s: Counter): CounterEvent[] => {
        if (s.n + cmd.by > 10) throw new IllegalStateError('counter would pass 10');
        return cmd.by === 0 ? [] : [{ type: 'Incremented', data: { by: cmd.by } }];
      },
    };
    const first = await handleCommand({ ...opts, command: { by: 1 }, commandId: 'k-1', known: { state: { n: 0 }, version: 0 } });
    const second = await handleCommand({
      ...opts,
      command: { by: 2 },
      commandId: 'k-2',
      known: { state: first.state, version: first.nextExpectedVersion },
    });
    expect(calls).toEqual(['append', 'append']);
    expect([first.state, first.nextExpectedVersion, second.state, second.nextExpectedVersion]).toEqual([{ n: 1 }, 1, { n: 3 }, 2]);
    expect(second.events.map((e) => [e.streamPosition, e.commandId])).toEqual([[2, 'k-2']]);

    // Another writer appended meanwhile: the known state is behind, the append meets version 3.
    await store.append('counter-3', [{ type: 'Incremented', data: { by: 4 } }], { expectedVersion: 'any' });
    calls.length = 0;
    const third = await handleCommand({ ...opts, command: { by: 1 }, commandId: 'k-3', known: { state: second.state, version: 2 } });
    expect(calls).toEqual(['append', 'read', 'lookup', 'append']);
    expect([third.state, third.nextExpectedVersion, third.duplicate]).toEqual([{ n: 8 }, 4, false]);

    // The same command again, on the state it left: answered as the first time, nothing appended.
    const again = await handleCommand({ ...opts, command: { by: 1 }, commandId: 'k-3', known: { state: third.state, version: 4 } });
    expect(again.duplicate).toBe(true);
    expect(again.events.map((e) => e.id)).toEqual(third.events.map((e) => e.id));
    expect([again.state, again.nextExpectedVersion]).toEqual([{ n: 8 }, 4]);
    expect((await store.readStream('counter-3')).version).toBe(4);

    // Nothing to decide, or refused: decided again on the stream as read (the known state may be behind).
    calls.length = 0;
    const noop = await handleCommand({ ...opts, command: { by: 0 }, known: { state: third.state, version: 4 } });
    expect(noop).toMatchObject({ events: [], state: { n: 8 }, nextExpectedVersion: 4 });
    await expect(handleCommand({ ...opts, command: { by: 3 }, known: { state: third.state, version: 4 } })).rejects.toBeInstanceOf(
      IllegalStateError,
    );
    expect(calls).toEqual(['read', 'read']);
    await expect(handleCommand({ ...opts, command: { by: 1 }, known: { state: { n: 0 }, version: -1 } })).rejects.toThrow(/known\.version/);
  });

  it('handleCommand gives up after maxRetries conflicts', async () => {
    let attempts = 0;
    const alwaysConflicting: EventStreams = {
      readStream: async () => ({ version: 0, events: [] }),
      commandResult: async () => undefined,
      append: async () => {
        attempts++;
        throw new ConcurrencyError('counter-2', 0, 1);
      },
    };
    await expect(
      handleCommand({
        store: alwaysConflicting,
        streamId: 'counter-2',
        initialState: () => 0,
        evolve: (s: number) => s,
        decide: () => [{ type: 'X', data: 1 }],
        command: null,
        maxRetries: 2,
      }),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    expect(attempts).toBe(3);
  });
});
