/**
 * The relay's raw path: events read with their data as jsonb text (`startRelay({ publishRaw })`) and
 * published with the body built around that text. Every body must parse to the same envelope as the
 * body built the old way (data parsed by pg, then stringified again), and consumers must see the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventEnvelope } from '@berth/contracts';
import {
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  infraAvailable,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from '@berth/testing';
import {
  createKysely,
  migrateEventStore,
  PostgresEventStore,
  startRelay,
  type AnyKysely,
  type NewEvent,
  type RawStoredEvent,
} from '@berth/event-store';
import { ack, connectNats, createEventPublisher, ensureStreams, envelopeBody, parseEnvelope, startConsumer } from './index.ts';

/** Data JSON gets wrong easily: escapes, unicode, number forms, empty and nested containers. */
const TRICKY: readonly unknown[] = [
  { s: 'quotes " and \\ backslashes \\" \\\\', path: 'C:\\dir\\file', slash: '</script>' },
  { unicode: 'é 😀 日本語 \u2028 \u2029 \u00ad e\u0301 👩‍👩‍👧', '键 🗝': 'ключ', control: '\u0001\u001f\t\n\r\b\f' },
  [1e21, 1e-7, 5e-324, 1.7976931348623157e308, -1.5e300, 0.1, 0.30000000000000004, 2 ** 53 + 2, -0, 123456789012345680000],
  { empty: {}, list: [], nested: [[[]], [{}], [[{ a: [[1, [2, [3]]]] }]]], nulls: [null, { n: null }] },
  { b: 1, a: 2, aa: 3, '10': 'int-like key', '2': 'another', '': 'empty key', 'a b': 'space' },
  JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c"}') as unknown,
  { big: 'x'.repeat(5000), flags: [true, false] },
  'a top-level string with "quotes"',
  42,
  null,
  true,
  [],
  {},
];

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('relay with raw data (publishRaw)', () => {
  const prefix = testSubjectPrefix('rr');
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;
  let nc: Awaited<ReturnType<typeof connectNats>>;

  beforeAll(async () => {
    tdb = await createTestDatabase('relay_raw');
    db = createKysely(tdb.url, { max: 4 });
    await migrateEventStore(db);
    store = new PostgresEventStore(db);
    nc = await connectNats({ url: natsUrl(), name: 'relay-raw-test' });
    await ensureStreams(nc, { prefix });
  });
  afterAll(async () => {
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
    await db.destroy();
    await tdb.drop();
  });

  it('publishes bodies that parse to the same envelope as before, and consumers see exactly that', async () => {
    const random = fc
      .sample(fc.jsonValue({ stringUnit: 'grapheme' }), { numRuns: 300, seed: 42 })
      .filter((v) => !JSON.stringify(v).includes('\\u0000'));
    const data = [...TRICKY, ...random];
    const events: NewEvent[] = data.map((d) => ({ type: 'VmRequested', data: d }));
    await store.append('vm-tricky', events.slice(0, 100), { expectedVersion: 0, commandId: 'cmd-tricky' });
    await store.append('vm-tricky', events.slice(100), { expectedVersion: 100 });
    // The global read stops below the cluster's oldest open transaction (other test files run beside
    // this one), so the events may show up a little later.
    const stored = await eventually(
      async () => {
        const all = await store.readAll({ after: null, limit: 1000 });
        return all.length === data.length ? all : undefined;
      },
      'all events in the global read',
      20_000,
    );
    expect(stored).toHaveLength(data.length);

    const received = new Map<string, EventEnvelope>();
    const consumer = await startConsumer({
      events: false, // made-up event types: the envelope is checked, not the catalog
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable: 'relay-raw',
      filterSubject: 'berth.inventory.vm.*.VmRequested',
      handle: async (env) => (received.set(env.id, env), ack()),
    });
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    const raw = new Map<string, RawStoredEvent>();
    const relay = startRelay({
      store,
      name: 'relay-raw',
      batchSize: 100,
      pollMillis: 200,
      publishRaw: async (e) => {
        raw.set(e.id, e);
        await publish(e);
      },
    });
    try {
      await eventually(() => received.size === stored.length, 'every event consumed', 20_000);
    } finally {
      await relay.stop();
      await consumer.stop();
      publish.close();
    }

    for (const e of stored) {
      const r = raw.get(e.id)!;
      const { dataJson, ...rest } = r;
      const { data, ...head } = e;
      expect(rest).toStrictEqual(head); // the raw read differs only in the data's form
      expect(JSON.parse(dataJson)).toStrictEqual(data); // ... which is the same JSON
      const before = parseEnvelope(envelopeBody(e)); // the body as it was built until now
      const now = parseEnvelope(envelopeBody(r));
      expect(now.ok).toBe(true);
      expect(now).toStrictEqual(before);
      expect(received.get(e.id)).toStrictEqual(before.ok ? before.envelope : undefined);
    }
    expect(stored.filter((e) => e.commandId === 'cmd-tricky')).toHaveLength(100);
  });

  it('a relay resuming reads back the ids on its stream (publisher.newestIds) and publishes none of them again', async () => {
    // The log the test above published; a relay with a fresh checkpoint resumes from its start, as one
    // killed before any checkpoint would.
    const all = await store.readAll({ after: null, limit: 1000 });
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    try {
      const newest = await publish.newestIds(5);
      expect(newest).toHaveLength(5);
      expect(new Set(newest).size).toBe(5);
      expect(all.map((e) => e.id)).toEqual(expect.arrayContaining(newest));
      let published = 0;
      const relay = startRelay({
        store,
        name: 'relay-resumed',
        batchSize: 1000,
        pollMillis: 200,
        alreadyPublished: publish.newestIds,
        publishRaw: async (e) => {
          published++;
          await publish(e);
        },
      });
      try {
        await eventually(() => relay.handled() === all.length, 'the resumed relay through the log', 20_000);
      } finally {
        await relay.stop();
      }
      expect(published).toBe(0);
    } finally {
      publish.close();
    }
  });

  it('takes exactly one of publish and publishRaw', () => {
    const noop = async (): Promise<void> => undefined;
    expect(() => startRelay({ store, name: 'neither' } as never)).toThrow(/exactly one of publish and publishRaw/);
    expect(() => startRelay({ store, name: 'both', publish: noop, publishRaw: noop } as never)).toThrow(
      /exactly one of publish and publishRaw/,
    );
  });
});
