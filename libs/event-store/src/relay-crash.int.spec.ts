/**
 * The relay as its own process (testing/relay-child.ts) against a private nats-server: SIGKILLed in the
 * middle of a batch, with NATS restarted under it. Every committed event reaches the stream, and the
 * relay's read-back (`alreadyPublished`) keeps the ones it published before its checkpoint moved from
 * going out again, even where JetStream's duplicate window no longer drops them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import {
  createTestDatabase,
  eventually,
  exited,
  infraAvailable,
  infraRequired,
  NATS_SERVER_BIN,
  PrivateNatsServer,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import {
  createKysely,
  migrateEventStore,
  PostgresEventStore,
  positionOf,
  readCheckpoint,
  type AnyKysely,
  type StoredEvent,
} from './index.ts';

const sleep = async (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CHILD = fileURLToPath(new URL('./testing/relay-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The crash tests run their own nats-server (they stop and restart it); CI must have the binary. */
function natsServerBinary(): boolean {
  if (existsSync(NATS_SERVER_BIN)) return true;
  if (infraRequired()) throw new Error(`REQUIRE_INFRA=1 but ${NATS_SERVER_BIN} is missing (set NATS_SERVER_BIN)`);
  console.warn(`skipping the relay crash tests: no ${NATS_SERVER_BIN}`);
  return false;
}

/** The Nats-Msg-Id of each of the stream's last `count` messages (all when `count` is omitted), oldest first. */
async function messageIds(jsm: JetStreamManager, stream: string, count = Infinity): Promise<string[]> {
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return [];
  const from = Math.max(state.first_seq, state.last_seq - count + 1);
  const ids: string[] = [];
  for (let seq = from; seq <= state.last_seq; seq += 200) {
    const seqs = Array.from({ length: Math.min(200, state.last_seq - seq + 1) }, (_, i) => seq + i);
    const msgs = await Promise.all(seqs.map(async (s) => jsm.streams.getMessage(stream, { seq: s })));
    for (const m of msgs) if (m) ids.push(m.header.get('Nats-Msg-Id'));
  }
  return ids;
}

/** A log written in transactions of 20 events over 7 streams, every ninth rolled back. */
class Writer {
  readonly committed = new Set<string>();
  readonly rolledBack = new Set<string>();
  private batch = 0;
  constructor(private readonly store: PostgresEventStore) {}

  async write(transactions: number): Promise<void> {
    for (let i = 0; i < transactions; i++) {
      const b = this.batch++;
      const ids: string[] = [];
      try {
        await this.store.transaction(async (tx) => {
          const r = await tx.append(
            `vm-${b % 7}`,
            Array.from({ length: 20 }, (_, k) => ({ type: 'Tick', data: { b, k } })),
            { expectedVersion: 'any' },
          );
          ids.push(...r.events.map((e) => e.id));
          if (b % 9 === 4) throw new Error('rollback');
        });
        ids.forEach((id) => this.committed.add(id));
      } catch {
        ids.forEach((id) => this.rolledBack.add(id));
      }
    }
  }
}

describe.skipIf(!(await infraAvailable('postgres')) || !natsServerBinary())('relay crash and restart', () => {
  let nats: PrivateNatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const children: ChildProcess[] = [];
  const dbs: { tdb: TestDatabase; db: AnyKysely }[] = [];

  beforeAll(async () => {
    nats = await PrivateNatsServer.start();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await nc?.close();
    await nats?.destroy();
    for (const { tdb, db } of dbs) {
      await db.destroy();
      await tdb.drop();
    }
  });

  /** A fresh log and a stream whose duplicate window is 200 ms: a restart after the window, as a slow one is. */
  async function setUp(label: string): Promise<{ db: AnyKysely; store: PostgresEventStore; url: string; prefix: string; stream: string }> {
    const tdb = await createTestDatabase(label);
    const db = createKysely(tdb.url, { max: 4 });
    dbs.push({ tdb, db });
    await migrateEventStore(db);
    const prefix = testSubjectPrefix(label.replace(/_/g, ''));
    const stream = prefix.toUpperCase();
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], storage: StorageType.File, duplicate_window: nanos(200) });
    return { db, store: new PostgresEventStore(db), url: tdb.url, prefix, stream };
  }

  function startChild(at: { url: string; prefix: string; stream: string }, dieAfterPublishes = 0): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        DATABASE_URL: at.url,
        NATS_URL: nats.url,
        SUBJECT_PREFIX: at.prefix,
        STREAM: at.stream,
        RELAY_NAME: 'jetstream',
        BATCH_SIZE: '100',
        DIE_AFTER_PUBLISHES: String(dieAfterPublishes),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  }

  it('SIGKILLed mid-batch again and again: every committed event in the stream exactly once, past the duplicate window', async () => {
    const at = await setUp('relay_kills');
    const log = new Writer(at.store);
    // Published by a killed relay but beyond its checkpoint: what a restart without the read-back publishes twice.
    let exposed = 0;
    const kills = 6;
    for (let k = 0; k < kills; k++) {
      await log.write(15); // 300 events, rollbacks among them: more than a child publishes before it dies
      const child = startChild(at, 30 + Math.floor(Math.random() * 170));
      await exited(child);
      expect(child.signalCode, `relay ${k + 1} died by its own SIGKILL`).toBe('SIGKILL');
      await sleep(250); // the window is over when the next relay starts
      const checkpoint = await readCheckpoint(at.db, 'public', 'jetstream');
      const beyond = await at.store.readAll({ after: checkpoint, limit: 100 });
      const tail = new Set(await messageIds(jsm, at.stream, 200));
      exposed += beyond.filter((e) => tail.has(e.id)).length;
    }
    await log.write(10);
    const last = startChild(at);
    await eventually(
      async () => (await jsm.streams.info(at.stream)).state.messages >= log.committed.size,
      'every committed event in the stream',
    );
    await sleep(500); // anything published twice would land now
    last.kill('SIGTERM');
    await exited(last);

    const ids = await messageIds(jsm, at.stream);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    console.log(
      `relay kills: ${kills} SIGKILLs, ${log.committed.size} committed, ${exposed} published beyond a checkpoint, ${ids.length} in stream`,
    );
    expect(exposed, 'the kills left published events beyond the checkpoint').toBeGreaterThan(0);
    expect(
      [...counts].filter(([, n]) => n > 1),
      'published twice',
    ).toEqual([]);
    expect(
      [...log.committed].filter((id) => !counts.has(id)),
      'never published',
    ).toEqual([]);
    expect(
      ids.filter((id) => !log.committed.has(id)),
      'not committed',
    ).toEqual([]);
    expect(ids.length).toBe(log.committed.size);
  });

  it('relay SIGKILLed and NATS restarted mid-stream: every committed event arrives, a deduplicating consumer applies each once', async () => {
    const at = await setUp('relay_restart');
    const log = new Writer(at.store);
    const inStream = async (): Promise<number> => (await jsm.streams.info(at.stream)).state.messages;

    await log.write(100); // 2000 events waiting before the relay starts
    // Killed mid-batch after 550 acknowledged publishes: the checkpoint stayed at a batch boundary
    // no further than the acknowledged ones (500 when every batch is full; batches may be shorter
    // while another transaction on the cluster holds the global-read horizon back).
    const first = startChild(at, 550);
    await exited(first);
    expect(first.signalCode).toBe('SIGKILL');
    const afterKill = await inStream();
    expect(afterKill).toBeGreaterThanOrEqual(550);
    const checkpoint = await readCheckpoint(at.db, 'public', 'jetstream');
    const all = await at.store.readAll({ after: null, limit: 5000 });
    const covered = all.findIndex((e) => JSON.stringify(positionOf(e)) === JSON.stringify(checkpoint)) + 1;
    expect(covered).toBeGreaterThan(0);
    expect(covered).toBeLessThanOrEqual(550);
    expect(covered % 100 === 0 || covered < 500).toBe(true);
    await log.write(50);
    const second = startChild(at);
    await eventually(async () => (await inStream()) > afterKill + 300, 'the second relay to resume');
    await nats.stop();
    await log.write(50); // appended while the bus is down
    await sleep(500);
    await nats.start();
    await log.write(50);

    // Consume everything from the start, deduplicating by event id as Berth consumers do.
    const applied = new Map<string, number>();
    let deliveries = 0;
    await eventually(
      async () => {
        applied.clear();
        deliveries = 0;
        const consumer = await jetstream(nc).consumers.get(at.stream);
        const total = await inStream();
        const msgs = total === 0 ? [] : await consumer.fetch({ max_messages: total, expires: 5000 });
        for await (const m of msgs) {
          deliveries++;
          const e = m.json<StoredEvent>();
          applied.set(e.id, (applied.get(e.id) ?? 0) + 1);
          if (deliveries === total) break;
        }
        return [...log.committed].every((id) => applied.has(id));
      },
      'every committed event on the bus',
      60_000,
    );
    second.kill('SIGTERM');
    await exited(second);

    expect([...log.committed].filter((id) => !applied.has(id))).toEqual([]);
    expect([...applied.keys()].filter((id) => !log.committed.has(id))).toEqual([]);
    expect([...applied.keys()].filter((id) => log.rolledBack.has(id))).toEqual([]);
    expect(applied.size).toBe(log.committed.size);
    console.log(
      `relay crash test: ${log.committed.size} committed, ${log.rolledBack.size} rolled back, ${deliveries} messages in stream (${deliveries - applied.size} duplicates), ${afterKill} before SIGKILL`,
    );
  });
});
