import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventCatalog, migrationEvents, storedEventEvolution } from '@berth/contracts';
import { ConcurrencyError, IllegalStateError } from '@berth/errors';
import { createKysely, migrateEventStore, PostgresEventStore, type AnyKysely, type EventStreams } from '@berth/event-store';
import type { Claim } from '@berth/fit';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import type { MigrationCommand } from '../domain/migration/commands.ts';
import { MigrationCommands, OPERATOR_COMMAND_ROUNDS } from './migrations.ts';
import type { InventoryPort, VmInfo } from './ports.ts';
import { DEFAULT_TEST_POLICY } from '../testing/migration-policy.ts';

const GiB = 1024 ** 3;
const NOW = '2026-12-06T23:00:00.000Z';

/** One running VM on h1; the rest of inventory is not used here. */
const inventory: InventoryPort = {
  getVm: async (vmId: string): Promise<VmInfo> => ({
    vmId,
    name: vmId,
    status: 'running',
    hostId: 'h1',
    hypervisorUri: 'sim://h1',
    memoryBytes: 2 * GiB,
    migrationMode: 'manual',
    highPerformanceOrPinned: false,
    resourcePool: 'default',
    migrationId: '',
    schedulingSpec: {},
  }),
  vmsOn: async () => [],
  beginMigration: async () => ({ kind: 'refused', detail: 'not in this test' }),
  completeMigration: async () => undefined,
  abortMigration: async () => undefined,
};

const claim = (vmId: string): Claim => ({
  vmId,
  hostId: 'h2',
  vcpus: 1,
  memoryBytes: 2 * GiB,
  pinnedCpus: [],
  numaCells: [],
  hugepages: [],
  devices: [],
  vfs: [],
  volumes: [],
  affinityGroups: [],
});

/**
 * CancelMigration (and ResumeMigration) race the migration's own steps for the stream's next version.
 * A cancel that loses its append re-reads the stream and decides again, in the service, over more
 * rounds than the event store's own three retries: before, a cancel racing a busy copy (progress every
 * few hundred ms) ended ABORTED to the caller once it lost four times in a row.
 */
describe.skipIf(!(await infraAvailable('postgres')))('operator commands racing the migration’s steps (real Postgres)', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;
  /** The migration's own steps, on the real store. */
  let steps: MigrationCommands;

  const commands = (over: EventStreams): MigrationCommands =>
    new MigrationCommands({
      store: over,
      inventory,
      scheduler: { score: async () => Promise.reject(new Error('no scheduler in this test')) },
      defaults: DEFAULT_TEST_POLICY,
      poolPolicies: {},
      clock: { now: () => new Date(NOW) },
      changed: () => undefined,
    });

  /**
   * The store as the operator's command sees it: before each append of `type`, `step` (while it
   * returns a command) is carried out first by the migration's own path: a concurrent step that wins.
   */
  const racing = (type: string, step: (lost: number) => MigrationCommand | undefined) => {
    let lost = 0;
    let appends = 0;
    const streams: EventStreams = {
      readStream: (id, call) => store.readStream(id, call),
      commandResult: (id, call) => store.commandResult(id, call),
      append: async (id, events, o) => {
        if (events[0]?.type === type) {
          appends++;
          const c = step(lost);
          if (c) {
            await steps.execute(id.slice('migration-'.length), c);
            lost++;
          }
        }
        return store.append(id, events, o);
      },
    };
    return { streams, lost: () => lost, appends: () => appends };
  };

  /** A migration of `vmId` copying to h2 (requested, chosen, claimed, copy started). */
  const copying = async (vmId: string): Promise<string> => {
    const m = await steps.migrate({ vmId, destination: '', policy: {}, trigger: 'manual', reason: 'test' });
    const id = m.core.migrationId;
    for (const c of [
      { type: 'RecordDestinationChosen', attempt: 1, hostId: 'h2', generation: 1, claim: claim(vmId), explanation: 'best', now: NOW },
      { type: 'RecordDestinationClaimed', attempt: 1, hypervisorUri: 'sim://h2', generation: 2, claim: claim(vmId) },
      { type: 'RecordCopyStarted', attempt: 1 },
    ] satisfies MigrationCommand[])
      await steps.execute(id, c);
    return id;
  };
  const progress = (n: number): MigrationCommand => ({
    type: 'RecordProgress',
    attempt: 1,
    progress: {
      dataTotalBytes: 100,
      dataProcessedBytes: n + 1,
      dataRemainingBytes: 99 - n,
      elapsedMillis: 100 * (n + 1),
      phase: 'precopy',
    },
  });
  const typesOf = async (id: string): Promise<string[]> =>
    (await store.readStream(migrationEvents.migrationStreamId(id))).events.map((e) => e.type);

  beforeAll(async () => {
    tdb = await createTestDatabase('migration_operator_race');
    db = createKysely(tdb.url, { applicationName: 'migration-race-int', max: 4 });
    await migrateEventStore(db);
    store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, migrationEvents.MIGRATION_SERVICE) });
    steps = commands(store);
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  it('a cancel that loses its append to progress reports six times in a row is still recorded, once', async () => {
    const id = await copying('race-1');
    // Six progress reports, each appended between the cancel's read and its append.
    const r = racing('CancelRequested', (lost) => (lost < 6 ? progress(lost) : undefined));
    const m = await commands(r.streams).cancel({ commandId: 'cancel-race-1', migrationId: id, reason: 'operator' });
    expect(m.status).toBe('aborting');
    expect(r.lost()).toBe(6);
    expect(r.appends()).toBe(7);
    const types = await typesOf(id);
    expect(types.filter((t) => t === 'MigrationProgressed')).toHaveLength(6);
    expect(types.filter((t) => t === 'CancelRequested')).toHaveLength(1);
    expect(types.at(-1)).toBe('CancelRequested');
    // Asked again with its command id: answered from the log, nothing more appended.
    await commands(store).cancel({ commandId: 'cancel-race-1', migrationId: id, reason: 'operator' });
    expect(await typesOf(id)).toEqual(types);
  });

  it('a cancel is decided again on what won the race: after the switch-over it is refused as such (FAILED_PRECONDITION), not ABORTED', async () => {
    const id = await copying('race-2');
    const r = racing('CancelRequested', (lost) =>
      lost === 0 ? progress(0) : lost === 1 ? { type: 'RecordSwitchedOver', attempt: 1, hostId: 'h2' } : undefined,
    );
    const err: unknown = await commands(r.streams)
      .cancel({ commandId: 'cancel-race-2', migrationId: id, reason: 'operator' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IllegalStateError);
    expect(String(err)).toMatch(/cannot cancel migration .*: it is switched-over/);
    expect(await typesOf(id)).not.toContain('CancelRequested');
  });

  it('the rounds are bounded: a stream that always moves on ends ABORTED (ConcurrencyError) after the last one', async () => {
    const id = await copying('race-3');
    const r = racing('CancelRequested', (lost) => progress(lost));
    const err: unknown = await commands(r.streams)
      .cancel({ commandId: 'cancel-race-3', migrationId: id, reason: 'operator' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConcurrencyError);
    // Each round is the event store's first try and its three retries.
    expect(r.appends()).toBe(OPERATOR_COMMAND_ROUNDS * 4);
    expect(await typesOf(id)).not.toContain('CancelRequested');
  });
});
