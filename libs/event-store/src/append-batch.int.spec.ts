import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ValidationError } from '@berth/errors';
import { infraAvailable } from '@berth/testing';
import { migrateEventStore, PostgresEventStore, type BatchOutcome } from './index.ts';
import { appendBatchFunction } from './append-batch-sql.ts';
import { useTestStore } from './testing/store-fixture.ts';

const ev = (type: string, n = 0) => ({ type, data: { n } });
const kinds = (outcomes: readonly BatchOutcome[]) => outcomes.map((o) => o.outcome);
const written = (o: BatchOutcome | undefined) => {
  if (o?.outcome !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(o)}`);
  return o.appends;
};

describe.skipIf(!(await infraAvailable('postgres')))('appendBatch', () => {
  const t = useTestStore('es_batch');

  it('commits items independently: a conflicting item changes nothing, the others are written', async () => {
    await t.store.append('b1-host', [ev('Registered')], { expectedVersion: 'no-stream' });
    const out = await t.store.appendBatch([
      // host at 1 + a new VM stream, atomically
      {
        commandId: 'claim-1',
        appends: [
          { streamId: 'b1-host', expectedVersion: 1, events: [ev('Claimed', 1)] },
          { streamId: 'b1-vm1', expectedVersion: 0, events: [ev('Placed', 1), ev('Noted', 1)] },
        ],
      },
      // a second command on the same host, expecting the version the first produced
      { appends: [{ streamId: 'b1-host', expectedVersion: 2, events: [ev('Claimed', 2)] }] },
      // stale: the host is no longer at 1; its new VM stream must not appear
      {
        commandId: 'claim-3',
        appends: [
          { streamId: 'b1-vm3', expectedVersion: 0, events: [ev('Placed', 3)] },
          { streamId: 'b1-host', expectedVersion: 1, events: [ev('Claimed', 3)] },
        ],
      },
      { appends: [{ streamId: 'b1-vm4', expectedVersion: 0, events: [ev('Placed', 4)] }] },
    ]);
    expect(kinds(out)).toEqual(['ok', 'ok', 'conflict', 'ok']);
    expect(out[2]).toEqual({ outcome: 'conflict', streamId: 'b1-host', actualVersion: 3 });
    const first = written(out[0]);
    expect(
      first.map((a) => [a.streamId, a.nextExpectedVersion, a.events.map((e) => [e.streamPosition, e.type, e.data, e.commandId])]),
    ).toEqual([
      ['b1-host', 2, [[2, 'Claimed', { n: 1 }, 'claim-1']]],
      [
        'b1-vm1',
        2,
        [
          [1, 'Placed', { n: 1 }, 'claim-1'],
          [2, 'Noted', { n: 1 }, 'claim-1'],
        ],
      ],
    ]);
    const host = await t.store.readStream('b1-host');
    expect(host.events.map((e) => e.type)).toEqual(['Registered', 'Claimed', 'Claimed']);
    expect(host.events[1]).toEqual(first[0]!.events[0]);
    expect((await t.store.readStream('b1-vm3')).version).toBe(0);
    expect(await t.store.commandResult('claim-3')).toBeUndefined();
    // Global positions follow item order.
    const positions = [...first, ...written(out[1]), ...written(out[3])].flatMap((a) => a.events).map((e) => BigInt(e.globalPosition));
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
  });

  it('writes a batch without conflicts whole: versions chained across items, new streams, command ids', async () => {
    await t.store.append('b6-host', [ev('Registered')], { expectedVersion: 'no-stream' });
    const out = await t.store.appendBatch(
      Array.from({ length: 5 }, (_, i) => ({
        commandId: `claim-b6-${i}`,
        appends: [
          { streamId: 'b6-host', expectedVersion: 1 + i, events: [ev('Claimed', i)] },
          { streamId: `b6-vm${i}`, expectedVersion: 0, events: [ev('Placed', i)] },
        ],
      })),
    );
    expect(kinds(out)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(out.map((o) => written(o).map((a) => a.nextExpectedVersion))).toEqual([
      [2, 1],
      [3, 1],
      [4, 1],
      [5, 1],
      [6, 1],
    ]);
    const host = await t.store.readStream('b6-host');
    expect(host.version).toBe(6);
    expect(host.events.map((e) => [e.streamPosition, e.data, e.commandId])).toEqual([
      [1, { n: 0 }, undefined],
      ...Array.from({ length: 5 }, (_, i) => [i + 2, { n: i }, `claim-b6-${i}`]),
    ]);
    for (let i = 0; i < 5; i++)
      expect((await t.store.commandResult(`claim-b6-${i}`))?.appends.map((a) => a.streamId).sort()).toEqual(['b6-host', `b6-vm${i}`]);
  });

  it('moves a stream many items append to once: consecutive versions, a stale item in the middle refused alone', async () => {
    await t.store.append('b9-project', [ev('Created')], { expectedVersion: 'no-stream' });
    await t.store.append('b9-host', [ev('Registered')], { expectedVersion: 'no-stream' });
    // Items 0-5 admit a VM each on the one project stream (as composes do), chaining its versions; item 3
    // expects a version the stream never had (stale); items 4 and 5 expect what 0-2 left, and item 4
    // also claims a host at a stale version, so only item 5 of the two goes in. Item 6 creates a
    // stream that item 7 appends to in the same statement.
    const out = await t.store.appendBatch([
      ...[1, 2, 3].map((v, i) => ({
        commandId: `b9-${i}`,
        appends: [
          { streamId: `b9-vm${i}`, expectedVersion: 0, events: [ev('Requested', i)] },
          { streamId: 'b9-project', expectedVersion: v, events: [ev('Admitted', i)] },
        ],
      })),
      {
        commandId: 'b9-3',
        appends: [
          { streamId: 'b9-vm3', expectedVersion: 0, events: [ev('Requested', 3)] },
          { streamId: 'b9-project', expectedVersion: 2, events: [ev('Admitted', 3)] },
        ],
      },
      {
        commandId: 'b9-4',
        appends: [
          { streamId: 'b9-project', expectedVersion: 4, events: [ev('Admitted', 4)] },
          { streamId: 'b9-host', expectedVersion: 5, events: [ev('Claimed', 4)] },
        ],
      },
      {
        commandId: 'b9-5',
        appends: [
          { streamId: 'b9-vm5', expectedVersion: 0, events: [ev('Requested', 5)] },
          { streamId: 'b9-project', expectedVersion: 4, events: [ev('Admitted', 5), ev('Noted', 5)] },
        ],
      },
      { appends: [{ streamId: 'b9-new', expectedVersion: 0, events: [ev('Made', 6)] }] },
      { appends: [{ streamId: 'b9-new', expectedVersion: 1, events: [ev('Made', 7), ev('Made', 7)] }] },
    ]);
    expect(kinds(out)).toEqual(['ok', 'ok', 'ok', 'conflict', 'conflict', 'ok', 'ok', 'ok']);
    // The conflicts name the stream and its version as the items before them left it.
    expect(out[3]).toEqual({ outcome: 'conflict', streamId: 'b9-project', actualVersion: 4 });
    expect(out[4]).toEqual({ outcome: 'conflict', streamId: 'b9-host', actualVersion: 1 });
    expect(out.map((o) => (o.outcome === 'ok' ? o.appends.map((a) => [a.streamId, a.nextExpectedVersion]) : []))).toEqual([
      [
        ['b9-vm0', 1],
        ['b9-project', 2],
      ],
      [
        ['b9-vm1', 1],
        ['b9-project', 3],
      ],
      [
        ['b9-vm2', 1],
        ['b9-project', 4],
      ],
      [],
      [],
      [
        ['b9-vm5', 1],
        ['b9-project', 6],
      ],
      [['b9-new', 1]],
      [['b9-new', 3]],
    ]);
    const project = await t.store.readStream('b9-project');
    expect(project.version).toBe(6);
    expect(project.events.map((e) => [e.streamPosition, e.type, e.data, e.commandId])).toEqual([
      [1, 'Created', { n: 0 }, undefined],
      [2, 'Admitted', { n: 0 }, 'b9-0'],
      [3, 'Admitted', { n: 1 }, 'b9-1'],
      [4, 'Admitted', { n: 2 }, 'b9-2'],
      [5, 'Admitted', { n: 5 }, 'b9-5'],
      [6, 'Noted', { n: 5 }, 'b9-5'],
    ]);
    expect((await t.store.readStream('b9-new')).events.map((e) => e.streamPosition)).toEqual([1, 2, 3]);
    expect((await t.store.readStream('b9-host')).version).toBe(1);
    expect((await t.store.readStream('b9-vm3')).version).toBe(0);
    expect(await t.store.commandResult('b9-3')).toBeUndefined();
    expect(await t.store.commandResult('b9-4')).toBeUndefined();
    expect((await t.store.commandResult('b9-5'))?.appends.map((a) => a.streamId).sort()).toEqual(['b9-project', 'b9-vm5']);
    // The stream row holds the batch's last version: a single append after it chains on.
    const next = await t.store.append('b9-project', [ev('Admitted', 8)], { expectedVersion: 6 });
    expect(next.nextExpectedVersion).toBe(7);
    await expect(t.store.append('b9-new', [ev('Made', 9)], { expectedVersion: 2 })).rejects.toMatchObject({ actual: 3 });
  });

  it('writes each stream row once per statement, however many items append to it', async () => {
    await t.store.append('b10-hot', [ev('Created')], { expectedVersion: 'no-stream' });
    const doc = () => ({ id: randomUUID(), type: 'E', schemaVersion: 1, metadata: {}, data: {} });
    const items = Array.from({ length: 5 }, (_, i) => ({
      c: `b10-${i}`,
      a: [
        { s: `b10-vm${i}`, v: 0, e: [doc()] },
        { s: 'b10-hot', v: 1 + i, e: [doc()] },
      ],
    }));
    // The backend's counts not yet reported (a transaction's own, and maybe earlier ones'): the batch's
    // writes are the difference across it.
    const writes = await t.db.transaction().execute(async (trx) => {
      const counts = async () => {
        const { rows } = await sql<{ ins: string; upd: string }>`
          SELECT n_tup_ins AS ins, n_tup_upd AS upd FROM pg_stat_xact_user_tables WHERE relid = 'streams'::regclass`.execute(trx);
        return { ins: Number(rows[0]?.ins ?? 0), upd: Number(rows[0]?.upd ?? 0) };
      };
      const before = await counts();
      await sql`SELECT * FROM berth_append_batch(${JSON.stringify(items)}::jsonb)`.execute(trx);
      const after = await counts();
      return { ins: after.ins - before.ins, upd: after.upd - before.upd };
    });
    // Five new VM streams inserted, the hot one updated once (at its last version).
    expect(writes).toEqual({ ins: 5, upd: 1 });
    expect((await t.store.readStream('b10-hot')).version).toBe(6);
  });

  it('gives a database migrated before the current batch function that function', async () => {
    await migrateEventStore(t.db, { schema: 'b11' });
    // As a database migrated before 0006 was: another body under the same signature, 0006 not recorded.
    await sql.raw(`DELETE FROM b11.event_store_migration WHERE name = '0006_append_batch_hot_streams_once'`).execute(t.db);
    await sql
      .raw(appendBatchFunction('b11').replace(/AS \$fn\$[\s\S]*\$fn\$/, `AS $fn$ BEGIN RAISE EXCEPTION 'older function'; END $fn$`))
      .execute(t.db);
    const store = new PostgresEventStore(t.db, { schema: 'b11' });
    const item = { appends: [{ streamId: 'b11-a', expectedVersion: 0, events: [ev('A')] }] };
    await expect(store.appendBatch([item])).rejects.toThrow('older function');
    await migrateEventStore(t.db, { schema: 'b11' });
    expect(kinds(await store.appendBatch([item]))).toEqual(['ok']);
  });

  it('refuses only the item whose version is stale in the table, committing the rest', async () => {
    await t.store.append('b7-x', [ev('X'), ev('X')], { expectedVersion: 'no-stream' });
    const out = await t.store.appendBatch([
      { commandId: 'b7-a', appends: [{ streamId: 'b7-a', expectedVersion: 0, events: [ev('A')] }] },
      { commandId: 'b7-x', appends: [{ streamId: 'b7-x', expectedVersion: 1, events: [ev('X2')] }] },
      { commandId: 'b7-b', appends: [{ streamId: 'b7-b', expectedVersion: 0, events: [ev('B')] }] },
    ]);
    expect(out[1]).toEqual({ outcome: 'conflict', streamId: 'b7-x', actualVersion: 2 });
    expect(kinds(out)).toEqual(['ok', 'conflict', 'ok']);
    expect((await t.store.readStream('b7-a')).version).toBe(1);
    expect((await t.store.readStream('b7-b')).version).toBe(1);
    expect((await t.store.readStream('b7-x')).version).toBe(2);
    expect(await t.store.commandResult('b7-x')).toBeUndefined();
    expect(await t.store.commandResult('b7-a')).toBeDefined();
  });

  it('answers a repeated command id as a duplicate with the first events, writing nothing', async () => {
    const item = {
      commandId: 'dup-1',
      appends: [
        { streamId: 'b2-a', expectedVersion: 0, events: [ev('A')] },
        { streamId: 'b2-b', expectedVersion: 0, events: [ev('B')] },
      ],
    };
    const [first] = await t.store.appendBatch([item]);
    expect(first?.outcome).toBe('ok');
    const again = await t.store.appendBatch([
      { ...item, appends: item.appends.map((a) => ({ ...a, expectedVersion: 1 })) },
      { appends: [{ streamId: 'b2-c', expectedVersion: 0, events: [ev('C')] }] },
    ]);
    expect(kinds(again)).toEqual(['duplicate', 'ok']);
    const dup = again[0]!;
    if (dup.outcome !== 'duplicate') throw new Error('unreachable');
    expect(dup.appends.map((a) => [a.streamId, a.events.map((e) => e.type)])).toEqual([
      ['b2-a', ['A']],
      ['b2-b', ['B']],
    ]);
    expect((await t.store.readStream('b2-a')).version).toBe(1);
    // The same command twice in one batch: the second is a duplicate of the first.
    const twice = await t.store.appendBatch([
      { commandId: 'dup-2', appends: [{ streamId: 'b2-d', expectedVersion: 0, events: [ev('D')] }] },
      { commandId: 'dup-2', appends: [{ streamId: 'b2-d', expectedVersion: 1, events: [ev('D')] }] },
    ]);
    expect(kinds(twice)).toEqual(['ok', 'duplicate']);
    expect((await t.store.readStream('b2-d')).version).toBe(1);
  });

  it('undoes a partly applied item when a later stream of it conflicts', async () => {
    await t.store.append('b3-x', [ev('X')], { expectedVersion: 'no-stream' });
    await t.store.append('b3-y', [ev('Y')], { expectedVersion: 'no-stream' });
    const out = await t.store.appendBatch([
      {
        commandId: 'undo',
        appends: [
          { streamId: 'b3-x', expectedVersion: 1, events: [ev('X2')] },
          { streamId: 'b3-new', expectedVersion: 0, events: [ev('N')] },
          { streamId: 'b3-y', expectedVersion: 5, events: [ev('Y2')] },
        ],
      },
      {
        appends: [
          { streamId: 'b3-x', expectedVersion: 1, events: [ev('X3')] },
          { streamId: 'b3-new', expectedVersion: 0, events: [ev('N')] },
        ],
      },
    ]);
    expect(out).toEqual([{ outcome: 'conflict', streamId: 'b3-y', actualVersion: 1 }, expect.objectContaining({ outcome: 'ok' })]);
    expect((await t.store.readStream('b3-x')).events.map((e) => e.type)).toEqual(['X', 'X3']);
    expect((await t.store.readStream('b3-new')).version).toBe(1);
    expect(await t.store.commandResult('undo')).toBeUndefined();
  });

  it('never lets two concurrent batches both take one expected version', async () => {
    await t.store.append('b4-h', [ev('H')], { expectedVersion: 'no-stream' });
    const racers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        t.store.appendBatch([{ appends: [{ streamId: 'b4-h', expectedVersion: 1, events: [ev('Take', i)] }] }]),
      ),
    );
    expect(racers.flat().filter((o) => o.outcome === 'ok')).toHaveLength(1);
    expect((await t.store.readStream('b4-h')).version).toBe(2);
  });

  it('compresses large event data with lz4', async () => {
    const big = { explanation: Array.from({ length: 200 }, (_, i) => ({ hostId: `host-${i}`, score: i / 7 })) };
    await t.store.append('b8-big', [{ type: 'Placed', data: big }], { expectedVersion: 'no-stream' });
    const { rows } = await sql<{
      method: string | null;
    }>`SELECT pg_column_compression(data) AS method FROM events WHERE stream_id = 'b8-big'`.execute(t.db);
    expect(rows).toEqual([{ method: 'lz4' }]);
  });

  it('rejects bad input naming the field, writing nothing', async () => {
    await expect(t.store.appendBatch([{ appends: [] }])).rejects.toThrow(ValidationError);
    await expect(
      t.store.appendBatch([{ appends: [{ streamId: 'b5', expectedVersion: 0, events: [{ type: '', data: 1 }] }] }]),
    ).rejects.toMatchObject({ violations: [{ field: 'events[0].type' }] });
    await expect(
      t.store.appendBatch([
        {
          appends: [
            { streamId: 'b5', expectedVersion: 0, events: [ev('A')] },
            { streamId: 'b5', expectedVersion: 0, events: [ev('A')] },
          ],
        },
      ]),
    ).rejects.toMatchObject({ violations: [{ field: 'items[0].appends[1].streamId' }] });
    expect((await t.store.readStream('b5')).version).toBe(0);
  });
});
