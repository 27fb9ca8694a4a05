import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '@berth/event-store';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import { migrateReadModel, type ExecutorTables } from './read-model-tables.ts';
import { projectVmEvents } from './vm-projection.ts';

// The executor_vms projection folds a batch in memory and writes it in at most two statements. The
// point: projecting a batch in one call leaves exactly the rows that projecting its events one at a
// time does, including where the row's current value decides (a pending delete is never overwritten).
describe.skipIf(!(await infraAvailable('postgres')))('executor_vms projection', () => {
  let db: TestDatabase;
  let kysely: Kysely<ExecutorTables>;
  /** SQL of every statement the pool runs, to count what one projection call issues. */
  const statements: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('executor_read_model');
    kysely = new Kysely<ExecutorTables>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.url, max: 2 }) }),
      log: (e) => {
        if (e.level === 'query') statements.push(e.query.sql);
      },
    });
    await migrateReadModel(kysely as unknown as Kysely<unknown>);
  });
  afterAll(async () => {
    await kysely?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    await kysely.deleteFrom('executor_vms').execute();
  });

  let position = 0;
  const ev = (vmId: string, type: string, extra: Record<string, unknown> = {}): StoredEvent => {
    position += 1;
    return {
      id: randomUUID(),
      type,
      schemaVersion: 1,
      streamId: `vm-${vmId}`,
      streamPosition: position,
      globalPosition: String(position),
      occurredAt: new Date().toISOString(),
      metadata: {},
      transactionId: '1',
      data: { vmId, hostId: 'h1', hypervisorUri: 'sim://h1', attempt: 1, ...extra },
    };
  };
  const provisioning = (vmId: string, attempt = 1, hostId = 'h1'): StoredEvent =>
    ev(vmId, 'DomainProvisioningStarted', { attempt, hostId, hypervisorUri: `sim://${hostId}` });
  const requested = (vmId: string, operation: string): StoredEvent => ev(vmId, 'OperationRequested', { operation });

  /** Runs one projection call in its own transaction, as runProjection does; returns the statements it issued. */
  const project = async (events: readonly StoredEvent[]): Promise<string[]> =>
    kysely.transaction().execute(async (trx) => {
      const from = statements.length;
      await projectVmEvents(events, trx);
      return statements.slice(from);
    });
  const oneByOne = async (events: readonly StoredEvent[]): Promise<void> => {
    for (const e of events) await project([e]);
  };
  const rows = async () =>
    kysely
      .selectFrom('executor_vms')
      .select(['vm_id', 'status', 'host_id', 'hypervisor_uri', 'attempt', 'pending'])
      .orderBy('vm_id')
      .execute();
  const updatedAt = async (vmId: string): Promise<Date | undefined> =>
    (await kysely.selectFrom('executor_vms').select('updated_at').where('vm_id', '=', vmId).executeTakeFirst())?.updated_at;

  /** Events of several VMs interleaved, as the log holds them: each VM's own order is kept. */
  const interleave = (...perVm: StoredEvent[][]): StoredEvent[] => {
    const out: StoredEvent[] = [];
    for (let i = 0; perVm.some((l) => i < l.length); i++) for (const l of perVm) if (i < l.length) out.push(l[i]!);
    return out;
  };

  /** Projects `before` one at a time, then `batch` in one call and, on a fresh table, one at a time; both must agree. */
  const sameBothWays = async (before: readonly StoredEvent[], batch: readonly StoredEvent[]) => {
    await oneByOne(before);
    const issued = await project(batch);
    const batched = await rows();
    await kysely.deleteFrom('executor_vms').execute();
    await oneByOne(before);
    await oneByOne(batch);
    const single = await rows();
    expect(batched).toEqual(single);
    return { rows: batched, issued };
  };

  it('gives the same rows for a batch in one call as one event at a time', async () => {
    const before = [
      provisioning('pre-del'),
      ev('pre-del', 'VmStarted'),
      requested('pre-del', 'delete'),
      provisioning('pre-run'),
      ev('pre-run', 'VmStarted'),
      provisioning('pre-failed', 1, 'h1'),
      ev('pre-failed', 'DomainProvisionFailed', { reason: 'x', permanent: false }),
      provisioning('pre-del-stop'),
      ev('pre-del-stop', 'VmStarted'),
      requested('pre-del-stop', 'delete'),
    ];
    const batch = [
      ...interleave(
        // provisioning -> running -> stop requested -> stopped
        [
          provisioning('a'),
          ev('a', 'VolumesCreated'),
          ev('a', 'DomainDefined'),
          ev('a', 'DomainStarted'),
          ev('a', 'VmStarted', { cause: 'provisioned' }),
          requested('a', 'stop'),
          ev('a', 'DomainStopped', { how: 'graceful' }),
        ],
        // a delete request followed by a stop request: the delete stays pending
        [provisioning('b'), ev('b', 'VmStarted'), requested('b', 'delete'), requested('b', 'stop')],
        // the same, then carried out
        [provisioning('b2'), ev('b2', 'VmStarted'), requested('b2', 'delete'), requested('b2', 'reboot'), ev('b2', 'DomainDeleted')],
        // re-provisioning after a failure, within the batch
        [
          provisioning('c', 1, 'h1'),
          ev('c', 'DomainProvisionFailed', { reason: 'x', permanent: false }),
          provisioning('c', 2, 'h2'),
          ev('c', 'DomainStarted', { hostId: 'h2' }),
          ev('c', 'VmStarted', { hostId: 'h2' }),
        ],
        // re-provisioning after a failure recorded before the batch
        [provisioning('pre-failed', 2, 'h3'), ev('pre-failed', 'VmStarted', { hostId: 'h3' }), requested('pre-failed', 'stop')],
        // a stop request over a delete pending in the row: nothing changes
        [requested('pre-del', 'stop'), requested('pre-del', 'start'), ev('pre-del', 'DomainDriftDetected', { action: 'reported' })],
        // the same, then the VM stops anyway: DomainStopped clears the delete, so the next request is recorded
        [requested('pre-del-stop', 'stop'), ev('pre-del-stop', 'DomainStopped', { how: 'graceful' }), requested('pre-del-stop', 'start')],
        // stop requested, stopped, start requested
        [requested('pre-run', 'stop'), ev('pre-run', 'DomainStopped', { how: 'graceful' }), requested('pre-run', 'start')],
        // VMs without a row: updates find nothing
        [
          requested('ghost', 'stop'),
          ev('ghost', 'DomainOperationFailed', { operation: 'stop', reason: 'x' }),
          requested('late', 'delete'),
          ev('late', 'DomainDeleted'),
        ],
      ),
      { ...ev('h1', 'UnknownDomainFound'), streamId: 'host-h1' },
    ];
    const { rows: result, issued } = await sameBothWays(before, batch);
    const row = (vm_id: string, status: string, pending: string | null, attempt = 1, host = 'h1') => ({
      vm_id,
      status,
      host_id: host,
      hypervisor_uri: `sim://${host}`,
      attempt,
      pending,
    });
    expect(result).toEqual([
      row('a', 'stopped', null),
      row('b', 'running', 'delete'),
      row('b2', 'deleted', null),
      row('c', 'running', null, 2, 'h2'),
      row('pre-del', 'running', 'delete'),
      row('pre-del-stop', 'stopped', 'start'),
      row('pre-failed', 'running', 'stop', 2, 'h3'),
      row('pre-run', 'stopped', 'start'),
    ]);
    // One upsert (VMs with a DomainProvisioningStarted in the batch) and one update (the others), instead of one per event.
    expect(issued).toHaveLength(2);
  });

  it('leaves a row with a pending delete untouched, updated_at included, when the batch only requests other operations', async () => {
    await oneByOne([provisioning('d'), ev('d', 'VmStarted'), requested('d', 'delete')]);
    const t0 = await updatedAt('d');
    await project([requested('d', 'stop'), requested('d', 'start')]);
    expect(await updatedAt('d')).toEqual(t0);
    expect((await rows())[0]).toMatchObject({ status: 'running', pending: 'delete' });
  });

  it('issues the same statements whatever the batch size', async () => {
    const lifecycle = (vmId: string): StoredEvent[] => [
      provisioning(vmId),
      ev(vmId, 'DomainDefined'),
      ev(vmId, 'DomainStarted'),
      ev(vmId, 'VmStarted'),
      requested(vmId, 'stop'),
      ev(vmId, 'DomainStopped'),
    ];
    const provisionSome = (n: number, tag: string) => interleave(...Array.from({ length: n }, (_, i) => lifecycle(`${tag}-${i}`)));
    const requestAll = (n: number, tag: string) => Array.from({ length: n }, (_, i) => requested(`${tag}-${i}`, 'start'));

    const small = await project([...provisionSome(1, 's'), ...requestAll(1, 'old')]);
    await project(provisionSome(300, 'old'));
    const large = await project([...provisionSome(300, 'l'), ...requestAll(300, 'old')]); // 2100 events
    expect(small).toHaveLength(2);
    expect(large).toEqual(small); // same SQL text: one array parameter per column
    expect(await project(provisionSome(5, 'p'))).toHaveLength(1);
    expect(await project(requestAll(5, 'old'))).toHaveLength(1);
    expect(await project([ev('x', 'DomainDriftDetected'), { ...ev('h1', 'UnknownDomainFound'), streamId: 'host-h1' }])).toHaveLength(0);
    const counts = await kysely
      .selectFrom('executor_vms')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('pending', '=', 'start')
      .executeTakeFirstOrThrow();
    expect(Number(counts.n)).toBe(300);
  });

  it('agrees with one event at a time on random histories', async () => {
    // A small deterministic PRNG, so a failure reproduces.
    let seed = 0x2f6b1a;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 16) % n;
    };
    const randomEvent = (vmId: string): StoredEvent => {
      const k = rand(12);
      if (k === 0) return provisioning(vmId, 1 + rand(3), `h${rand(3)}`);
      if (k <= 4) return requested(vmId, ['start', 'stop', 'reboot', 'delete'][rand(4)]!);
      return ev(
        vmId,
        [
          'VmStarted',
          'DomainStopped',
          'DomainDeleted',
          'DomainProvisionFailed',
          'DomainOperationFailed',
          'DomainDriftDetected',
          'DomainStarted',
        ][rand(7)]!,
      );
    };
    const history = (length: number): StoredEvent[] => {
      const vms = Array.from({ length: 8 }, (_, i) => `r${i}`);
      const out: StoredEvent[] = vms.map((v) => provisioning(v)).filter(() => rand(4) !== 0);
      while (out.length < length) out.push(randomEvent(vms[rand(vms.length)]!));
      return out;
    };
    for (let round = 0; round < 4; round++) {
      await kysely.deleteFrom('executor_vms').execute();
      const { issued } = await sameBothWays(history(15), history(60));
      expect(issued.length).toBeLessThanOrEqual(2);
    }
  });
});
