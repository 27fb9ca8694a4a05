/**
 * Event-store benchmark: appends vs plain INSERTs, batch appends, the global read and the relay to
 * JetStream, in a fresh database. Prints figures; the last line is one JSON object.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { sql } from 'kysely';
import type { CallDeadline } from '@berth/errors';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { createTestDatabase, natsUrl, uniqueSuffix } from '@berth/testing';
import { createKysely, migrateEventStore, PostgresEventStore, startRelay } from '../src/index.ts';
import { pipelinedPublisher } from './pipelined-publisher.ts';

const WRITERS = 8;
const PHASE_MILLIS = 2500;
// Raw and append phases alternate in short rounds so load from other work hits both alike.
const ROUNDS = 8;
const ROUND_MILLIS = 700;
const now = (): number => performance.now();
const payload = (i: number): { vmId: string; vcpus: number; memoryBytes: number; host: string; tags: string[] } => ({
  vmId: `vm-${i}`,
  vcpus: 2,
  memoryBytes: 4 * 2 ** 30,
  host: 'host-17',
  tags: ['bench', 'tier-gold'],
});

/** Runs `op` in `workers` parallel loops for `millis`; answers operations per second. */
async function throughput(workers: number, millis: number, op: (worker: number, n: number) => Promise<void>): Promise<number> {
  let ops = 0;
  const start = now();
  const end = start + millis;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let n = 0; now() < end; n++) {
        await op(w, n);
        ops++;
      }
    }),
  );
  return ops / ((now() - start) / 1000);
}

const tdb = await createTestDatabase('es_bench');
const db = createKysely(tdb.url, { max: WRITERS + 2 });
const raw = await Promise.all(
  Array.from({ length: WRITERS }, async () => {
    const c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
    return c;
  }),
);
const nc = await connect({ servers: natsUrl(), name: 'event-store-bench' });
const jsm = await jetstreamManager(nc);
const streamName = `BENCH_ES_${uniqueSuffix().toUpperCase()}`;
try {
  await migrateEventStore(db);
  const store = new PostgresEventStore(db);
  await sql`CREATE TABLE raw_events (LIKE events INCLUDING ALL)`.execute(db);

  let appendOps = 0;
  let appendSecs = 0;
  let rawOps = 0;
  let rawSecs = 0;
  const versions = new Array<number>(WRITERS).fill(0);
  for (let round = 0; round < ROUNDS; round++) {
    const r = await throughput(WRITERS, ROUND_MILLIS, async (w, n) => {
      await raw[w]!.query(
        'INSERT INTO raw_events (event_id, stream_id, stream_position, type, schema_version, data, metadata) VALUES ($1, $2, $3, $4, 1, $5, $6)',
        [randomUUID(), `raw-${round}-${w}`, n + 1, 'VmRequested', JSON.stringify(payload(n)), '{}'],
      );
    });
    rawOps += (r * ROUND_MILLIS) / 1000;
    rawSecs += ROUND_MILLIS / 1000;
    const a = await throughput(WRITERS, ROUND_MILLIS, async (w, n) => {
      const res = await store.append(`single-${w}`, [{ type: 'VmRequested', data: payload(n) }], { expectedVersion: versions[w]! });
      versions[w] = res.nextExpectedVersion;
    });
    appendOps += (a * ROUND_MILLIS) / 1000;
    appendSecs += ROUND_MILLIS / 1000;
    console.log(`round ${round}: raw INSERT ${r.toFixed(0)}/s, append ${a.toFixed(0)}/s`);
  }
  const rawInsertPerSecond = rawOps / rawSecs;
  const appendsPerSecond = appendOps / appendSecs;

  // Appends for a gRPC call (outside transactions, each bounded in Postgres by its deadline), in
  // rounds alternating with appends of no call: deadlines of 30 s (the gRPC clients' default), and
  // spread over 2-10 s (a new session statement_timeout for nearly every statement: the worst case).
  const callRates = { none: { ops: 0, secs: 0 }, call30s: { ops: 0, secs: 0 }, callSpread: { ops: 0, secs: 0 } };
  const callVersions = new Array<number>(WRITERS).fill(0);
  const callOf = (millis: number): CallDeadline => ({ deadline: new Date(Date.now() + millis), signal: new AbortController().signal });
  for (let round = 0; round < ROUNDS; round++) {
    for (const [kind, deadlineMillis] of [
      ['none', undefined],
      ['call30s', () => 30_000],
      ['callSpread', () => 2000 + Math.random() * 8000],
    ] as const) {
      const rate = await throughput(WRITERS, ROUND_MILLIS, async (w, n) => {
        const call = deadlineMillis === undefined ? undefined : callOf(deadlineMillis());
        const res = await store.append(`call-${w}`, [{ type: 'VmRequested', data: payload(n) }], {
          expectedVersion: callVersions[w]!,
          call,
        });
        callVersions[w] = res.nextExpectedVersion;
      });
      callRates[kind].ops += (rate * ROUND_MILLIS) / 1000;
      callRates[kind].secs += ROUND_MILLIS / 1000;
    }
  }
  const perSecond = ({ ops, secs }: { ops: number; secs: number }): number => ops / secs;
  const appendsNoCallPerSecond = perSecond(callRates.none);
  const appendsCall30sPerSecond = perSecond(callRates.call30s);
  const appendsCallSpreadPerSecond = perSecond(callRates.callSpread);
  console.log(
    `appends for calls: none ${appendsNoCallPerSecond.toFixed(0)}/s, 30 s deadlines ${appendsCall30sPerSecond.toFixed(0)}/s, 2-10 s deadlines ${appendsCallSpreadPerSecond.toFixed(0)}/s`,
  );

  const batchVersions = new Array<number>(4).fill(0);
  const batchesPerSecond = await throughput(4, PHASE_MILLIS, async (w, n) => {
    const events = Array.from({ length: 100 }, (_, k) => ({ type: 'VmRequested', data: payload(n * 100 + k) }));
    const res = await store.append(`batch-${w}`, events, { expectedVersion: batchVersions[w]! });
    batchVersions[w] = res.nextExpectedVersion;
  });
  const batchEventsPerSecond = batchesPerSecond * 100;
  console.log(`batch appends: ${batchEventsPerSecond.toFixed(0)} events/s`);

  let read = 0;
  const readStart = now();
  for (let after = null as Awaited<ReturnType<typeof store.readAll>>[number] | null; ;) {
    const page = await store.readAll({
      after: after === null ? null : { transactionId: after.transactionId, position: after.globalPosition },
      limit: 1000,
    });
    if (page.length === 0) break;
    read += page.length;
    after = page.at(-1)!;
  }
  const globalReadEventsPerSecond = read / ((now() - readStart) / 1000);
  console.log(`global read: ${read} events, ${globalReadEventsPerSecond.toFixed(0)} events/s`);

  await jsm.streams.add({ name: streamName, subjects: [`${streamName.toLowerCase()}.>`], storage: StorageType.File });
  const publisher = pipelinedPublisher(nc);
  // The bus alone, same publisher and message size, no Postgres: the ceiling the relay works under.
  const sample = JSON.stringify((await store.readAll({ after: null, limit: 1 }))[0]);
  const ceilingCount = 10_000;
  const ceilingStart = now();
  await Promise.all(
    Array.from({ length: ceilingCount }, async (_, i) => publisher.publish(`${streamName.toLowerCase()}.ceiling`, sample, `ceiling-${i}`)),
  );
  const jetstreamPublishCeilingPerSecond = ceilingCount / ((now() - ceilingStart) / 1000);
  console.log(`JetStream alone: ${jetstreamPublishCeilingPerSecond.toFixed(0)} acknowledged publishes/s`);
  const relayStart = now();
  const relay = startRelay({
    store,
    name: 'bench',
    batchSize: 2000,
    pollMillis: 200,
    publish: async (e) => {
      await publisher.publish(`${streamName.toLowerCase()}.${e.type}`, JSON.stringify(e), e.id);
    },
  });
  while (relay.handled() < read) await new Promise((r) => setTimeout(r, 20));
  const relayEventsPerSecond = relay.handled() / ((now() - relayStart) / 1000);
  await relay.stop();
  publisher.close();
  const stored = (await jsm.streams.info(streamName)).state.messages;
  console.log(
    `relay: ${relay.handled()} events acknowledged by JetStream (${stored - ceilingCount} in stream), ${relayEventsPerSecond.toFixed(0)} events/s`,
  );

  const round = (n: number): number => Math.round(n);
  console.log(
    JSON.stringify({
      appendsPerSecond: round(appendsPerSecond),
      batchEventsPerSecond: round(batchEventsPerSecond),
      globalReadEventsPerSecond: round(globalReadEventsPerSecond),
      relayEventsPerSecond: round(relayEventsPerSecond),
      rawInsertPerSecond: round(rawInsertPerSecond),
      appendVsRawRatio: Math.round((appendsPerSecond / rawInsertPerSecond) * 100) / 100,
      appendsNoCallPerSecond: round(appendsNoCallPerSecond),
      call30sVsNoCallRatio: Math.round((appendsCall30sPerSecond / appendsNoCallPerSecond) * 100) / 100,
      callSpreadVsNoCallRatio: Math.round((appendsCallSpreadPerSecond / appendsNoCallPerSecond) * 100) / 100,
      jetstreamPublishCeilingPerSecond: round(jetstreamPublishCeilingPerSecond),
      loadAverage1m: Math.round(loadavg()[0]! * 10) / 10,
    }),
  );
} finally {
  await jsm.streams.delete(streamName).catch(() => false);
  await nc.close();
  await Promise.all(raw.map(async (c) => c.end()));
  await db.destroy();
  await tdb.drop();
}
