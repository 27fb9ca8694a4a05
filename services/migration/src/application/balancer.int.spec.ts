import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, migrateEventStore, PostgresEventStore, type AnyKysely } from '@berth/event-store';
import { applyClaim, fits, hostSnapshot, vmSpec, type HostSnapshot } from '@berth/fit';
import { createLogger } from '@berth/observability';
import { HostView } from '@berth/scoring';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import { defaultPolicy } from '../domain/balancer/policy.ts';
import type { Evacuee } from '../domain/evacuation/model.ts';
import { BalancerService } from './balancer.ts';
import type { FleetReader } from './evacuation-ports.ts';
import type { MigrateInput } from './migrations.ts';

const GiB = 1024 ** 3;

/** Two hosts of 8 vCPUs: h0 holds seven 1-vCPU VMs (87.5%), h1 none. */
function fleet(): { view: HostView; evacuees: Map<string, Evacuee[]> } {
  let h0: HostSnapshot = hostSnapshot({ hostId: 'h0', cpus: 8, memoryBytes: 32 * GiB });
  const h1 = hostSnapshot({ hostId: 'h1', cpus: 8, memoryBytes: 32 * GiB });
  const list: Evacuee[] = [];
  for (let i = 0; i < 7; i++) {
    const spec = vmSpec({ vmId: `vm${i}`, vcpus: 1, memoryBytes: GiB / 4, migrationMode: 'manual-and-automatic' });
    const r = fits(h0, spec);
    if (!r.ok) throw new Error('fixture');
    h0 = applyClaim(h0, r.claim);
    list.push({ spec, claim: r.claim, status: 'running' });
  }
  return { view: new HostView([h0, h1]), evacuees: new Map([['h0', list]]) };
}

describe.skipIf(!(await infraAvailable('postgres')))('balancer in the service (policy in the log, periodic runs)', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;
  const started: MigrateInput[] = [];
  let now = Date.parse('2026-12-06T00:00:00Z');
  const make = (): BalancerService => {
    const f = fleet();
    const reader: FleetReader = { view: async () => f.view, evacuees: async (h) => f.evacuees.get(h) ?? [] };
    return new BalancerService({
      store,
      db,
      fleet: reader,
      migrations: {
        migrate: async (input) => {
          started.push(input);
          return { core: { migrationId: `m-${started.length}` } } as never;
        },
      },
      clock: { now: () => now },
      logger: createLogger('balancer-int'),
    });
  };

  beforeAll(async () => {
    tdb = await createTestDatabase('migration_balancer');
    db = createKysely(tdb.url, { applicationName: 'balancer-int', max: 4 });
    await migrateEventStore(db);
    store = new PostgresEventStore(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  it('policy: default off, set (validated, every bad field named, nothing recorded), read back', async () => {
    const b = make();
    expect(await b.getPolicy('default')).toEqual(defaultPolicy('default'));
    await expect(b.setPolicy({ ...defaultPolicy('default'), highThreshold: 1.5, mode: 'sideways' as never }, 'bad')).rejects.toMatchObject({
      name: 'ValidationError',
      violations: expect.arrayContaining([
        expect.objectContaining({ field: 'policy.highThreshold' }),
        expect.objectContaining({ field: 'policy.mode' }),
      ]),
    });
    expect((await store.readStream('balancer-default')).events).toEqual([]);
    const set = await b.setPolicy({ ...defaultPolicy('default'), mode: 'spread', windowSeconds: 0, intervalSeconds: 60 }, 'set-1');
    expect(set.mode).toBe('spread');
    expect((await make().getPolicy('default')).mode).toBe('spread');
  });

  it('dry run changes nothing; a tick moves one VM per interval, records it, and its cooldown holds after a restart', async () => {
    const b = make();
    const dry = await b.dryRun('default');
    expect(dry.moves).toHaveLength(1);
    expect(dry.moves[0]).toMatchObject({ from: 'h0', to: 'h1' });
    expect(dry.hosts.find((h) => h.hostId === 'h0')?.role).toBe('over');
    expect(started).toEqual([]);

    await b.tick();
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ trigger: 'balancer', destination: 'h1', vmId: dry.moves[0]!.vmId });
    const recorded = (await store.readStream('balancer-default')).events.filter((e) => e.type === 'BalancerRunRecorded');
    expect(recorded).toHaveLength(1);
    // within the interval: no second run
    now += 30_000;
    await b.tick();
    expect(started).toHaveLength(1);
    // a restarted service (same fleet: the move has not happened) after the interval: the moved VM stays in its cooldown
    now += 60_000;
    const again = make();
    await again.tick();
    expect(started).toHaveLength(2);
    expect(started[1]!.vmId).not.toBe(started[0]!.vmId);
    const run = await again.dryRun('default');
    expect(run.moves.map((m) => m.vmId)).not.toContain(started[0]!.vmId);
    expect(run.moves.map((m) => m.vmId)).not.toContain(started[1]!.vmId);
  });
});
