import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { NotFoundError, PermissionDeniedError, QuotaExceededError, ValidationError } from '@berth/errors';
import { createKysely, migrateEventStore, PostgresEventStore, type AnyKysely } from '@berth/event-store';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import type { VmSpecInput } from '../domain/vm/commands.ts';
import { ProjectCommands } from './projects.ts';
import { GiB, vmSpecInput } from '../testing/host-specs.ts';
import { inventoryBatcher } from './streams.ts';
import { VmCommands } from './vms.ts';
import type { Scope } from './scope.ts';

const spec = (name: string, vcpus = 1): VmSpecInput => vmSpecInput({ name, vcpus, memoryBytes: GiB });

const ACME = 'spiffe://berth/client/acme';
const GLOBEX = 'spiffe://berth/client/globex';
const acme: Scope = { kind: 'client', identity: ACME };
const globex: Scope = { kind: 'client', identity: GLOBEX };

describe.skipIf(!(await infraAvailable('postgres')))('projects, quotas and client scopes against real Postgres', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;
  /** Two command paths with their own caches, as two inventory processes on one log would have. */
  let a: { vms: VmCommands; projects: ProjectCommands };
  let b: { vms: VmCommands; projects: ProjectCommands };

  beforeAll(async () => {
    tdb = await createTestDatabase('inventory_projects_app');
    db = createKysely(tdb.url, { max: 8 });
    await migrateEventStore(db);
    store = new PostgresEventStore(db);
    const make = () => {
      const batcher = inventoryBatcher(store);
      return { vms: new VmCommands(batcher, async () => new Set()), projects: new ProjectCommands(batcher) };
    };
    a = make();
    b = make();
    await a.projects.create({ project: 'team-a', description: 'A' });
    await a.projects.create({ project: 'team-b', description: 'B' });
    await a.projects.bind({ identity: ACME, project: 'team-a' });
    await a.projects.bind({ identity: GLOBEX, project: 'team-b' });
  });

  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  const eventCount = async (): Promise<number> =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(db)).rows[0]!.n);

  it('admits exactly up to the quota when two command paths race (the project stream version guards the compose)', async () => {
    await a.projects.create({ project: 'edge', description: '' });
    await a.projects.setQuota({ project: 'edge', quota: { vms: 5, devices: {} } });
    // Warm both caches, so each decides on a state the other is about to change.
    await a.projects.get('edge');
    await b.projects.get('edge');
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 === 0 ? a : b).vms.compose({ vmId: `edge-${i}`, project: 'edge', spec: spec(`edge-${i}`) }),
      ),
    );
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(refused).toHaveLength(11);
    for (const e of refused) {
      expect(e).toBeInstanceOf(QuotaExceededError);
      expect((e as QuotaExceededError).violations[0]).toMatchObject({
        subject: 'project:edge',
        quota: 'vms',
        limit: 5,
        used: 5,
        requested: 1,
      });
    }
    expect((await b.projects.get('edge')).usage.vms).toBe(5);
  });

  it('a client acts only on its projects: another project is NOT_FOUND for VMs, PERMISSION_DENIED for composing into it', async () => {
    const mine = await a.vms.compose({ vmId: 'acme-1', spec: spec('acme-1'), scope: acme });
    expect(mine.vm.core.project).toBe('team-a'); // the one bound project is the default
    await a.vms.compose({ vmId: 'globex-1', project: 'team-b', spec: spec('globex-1'), scope: globex });
    const before = await eventCount();
    await expect(a.vms.get('globex-1', acme)).rejects.toBeInstanceOf(NotFoundError);
    await expect(a.vms.delete({ vmId: 'globex-1', scope: acme })).rejects.toBeInstanceOf(NotFoundError);
    await expect(a.vms.stop({ vmId: 'globex-1', force: true, scope: acme })).rejects.toBeInstanceOf(NotFoundError);
    await expect(a.vms.start({ vmId: 'globex-1', scope: acme })).rejects.toBeInstanceOf(NotFoundError);
    await expect(a.vms.reboot({ vmId: 'globex-1', scope: acme })).rejects.toBeInstanceOf(NotFoundError);
    // The same answer as for a VM that does not exist at all.
    await expect(a.vms.get('no-such-vm', acme)).rejects.toThrow('vm no-such-vm not found');
    await expect(a.vms.get('globex-1', acme)).rejects.toThrow('vm globex-1 not found');
    await expect(a.vms.compose({ vmId: 'acme-2', project: 'team-b', spec: spec('acme-2'), scope: acme })).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );
    // An unknown project reads the same to a client as one it is not bound to.
    await expect(a.vms.compose({ vmId: 'acme-3', project: 'nope', spec: spec('acme-3'), scope: acme })).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );
    expect(await eventCount()).toBe(before);
    expect(await a.vms.visibleProjects(acme)).toEqual(['team-a']);
    // Operators see both.
    expect((await a.vms.get('globex-1')).vm.core.project).toBe('team-b');
    await a.vms.delete({ vmId: 'globex-1', scope: globex });
  });

  it('unbinding takes effect on the next command (the binding is read in the command’s own commit)', async () => {
    await a.projects.bind({ identity: ACME, project: 'team-b' });
    await b.vms.compose({ vmId: 'shared-1', project: 'team-b', spec: spec('shared-1'), scope: acme });
    expect(await a.projects.bind({ identity: ACME, project: 'team-b', unbind: true })).toEqual(['team-a']);
    await expect(b.vms.stop({ vmId: 'shared-1', force: false, scope: acme })).rejects.toBeInstanceOf(NotFoundError);
    // Bound to two projects, a client must name one.
    await a.projects.bind({ identity: ACME, project: 'team-b' });
    await expect(a.vms.compose({ vmId: 'acme-4', spec: spec('acme-4'), scope: acme })).rejects.toBeInstanceOf(ValidationError);
  });
});
