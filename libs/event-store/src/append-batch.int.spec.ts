import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ValidationError } from '@berth/errors';
import { infraAvailable } from '@berth/testing';
import type { BatchOutcome } from './index.ts';
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
