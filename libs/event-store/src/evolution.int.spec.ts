import { describe, expect, it } from 'vitest';
import { eventCatalog, storedEventEvolution } from '@berth/contracts';
import { infraAvailable } from '@berth/testing';
import { aggregate, CommandBatcher, PostgresEventStore, runProjection, type StoredEvent } from './index.ts';
import { useTestStore } from './testing/store-fixture.ts';

const loc = { vmId: 'old-1', hostId: 'h1', hypervisorUri: 'sim://h1', attempt: 1 };
/** What an executor log of an existing installation holds: the former names, version 1, the empty location. */
const OLD = [
  { type: 'VmStopped', data: { ...loc, how: 'graceful' } },
  { type: 'DomainDrift', data: { ...loc, expected: 'running', actual: 'shut-off', action: 'reported' } },
  { type: 'VmDeleted', data: { vmId: 'old-1', hostId: '', hypervisorUri: '', attempt: 0, reason: 'never provisioned' } },
];
const CURRENT = [
  { type: 'DomainStopped', schemaVersion: 1, data: { ...loc, how: 'graceful' } },
  { type: 'DomainDriftDetected', schemaVersion: 1, data: { ...loc, expected: 'running', actual: 'shut-off', action: 'reported' } },
  { type: 'DomainDeleted', schemaVersion: 2, data: { vmId: 'old-1', reason: 'never provisioned' } },
];
const shape = (events: readonly StoredEvent[]) => events.map(({ type, schemaVersion, data }) => ({ type, schemaVersion, data }));

describe.skipIf(!(await infraAvailable('postgres')))('a store with an EventEvolution', () => {
  const t = useTestStore('es_evolution', 4);
  const evolving = (): PostgresEventStore => new PostgresEventStore(t.db, { evolution: storedEventEvolution(eventCatalog, 'executor') });

  it('reads events written under former names and older versions as the current ones, on every read path', async () => {
    // Written by a store that knows nothing of the renames (as the old code wrote them).
    const written = await t.store.append('vm-old-1', OLD, { expectedVersion: 'no-stream', commandId: 'old-cmd' });
    expect(written.events.map((e) => [e.type, e.schemaVersion])).toEqual(OLD.map((e) => [e.type, 1]));
    const store = evolving();

    expect(shape((await store.readStream('vm-old-1')).events)).toEqual(CURRENT);
    expect(shape((await store.readAll({ after: null, limit: 100 })).filter((e) => e.streamId === 'vm-old-1'))).toEqual(CURRENT);
    expect(shape((await store.commandResult('old-cmd'))!.appends[0]!.events)).toEqual(CURRENT);
    expect(shape((await store.transaction(async (tx) => tx.readStream('vm-old-1'))).events)).toEqual(CURRENT);

    const folded = aggregate<string[]>({ prefix: 'vm-', initial: () => [], evolve: (s, e) => [...s, e.type] });
    const batcher = new CommandBatcher(store, { aggregates: [folded] });
    expect((await batcher.read(folded.stream('vm-old-1'))).state).toEqual(CURRENT.map((e) => e.type));

    const projected: string[] = [];
    const loop = runProjection({
      store,
      name: 'evolution',
      pollMillis: 60_000,
      handle: async (events) => void projected.push(...events.filter((e) => e.streamId === 'vm-old-1').map((e) => e.type)),
    });
    try {
      for (const deadline = Date.now() + 20_000; projected.length < CURRENT.length && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 20));
      expect(projected).toEqual(CURRENT.map((e) => e.type));
    } finally {
      await loop.stop();
    }
  });

  it('writes each type at its current version unless the append says otherwise', async () => {
    const store = evolving();
    await store.append(
      'vm-new-1',
      [
        { type: 'DomainDeleted', data: { vmId: 'new-1', reason: 'never provisioned' } },
        { type: 'DomainStopped', data: { ...loc, vmId: 'new-1', how: 'forced' } },
        { type: 'Private', data: {} },
        { type: 'DomainOperationFailed', schemaVersion: 1, data: { ...loc, operation: 'stop', reason: 'x' } },
      ],
      { expectedVersion: 'no-stream' },
    );
    // Read as written, by a store without the evolution.
    const raw = (await t.store.readStream('vm-new-1')).events;
    expect(raw.map((e) => [e.type, e.schemaVersion])).toEqual([
      ['DomainDeleted', 2],
      ['DomainStopped', 1],
      ['Private', 1],
      ['DomainOperationFailed', 1],
    ]);
  });
});
