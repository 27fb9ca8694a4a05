import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError, IllegalStateError } from '@berth/errors';
import { createKysely, migrateEventStore, PostgresEventStore, type AnyKysely } from '@berth/event-store';
import { fits, type Claim } from '@berth/fit';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import { inventoryEvents } from '@berth/contracts';
import { hostSpec, GiB, vmSpecInput } from '../testing/host-specs.ts';
import { hostSnapshotOf } from '../domain/host/state.ts';
import { auditHostStream } from './audit.ts';
import { HostCommands } from './hosts.ts';
import { VmCommands } from './vms.ts';
import { ClaimCommands } from './claims.ts';
import { inventoryBatcher } from './streams.ts';

const HOSTS = 50;
const CLAIMERS = 8;

describe.skipIf(!(await infraAvailable('postgres')))('claims against real Postgres', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;
  let hosts: HostCommands;
  let vms: VmCommands;
  let claims: ClaimCommands;

  beforeAll(async () => {
    tdb = await createTestDatabase('inventory_claims');
    db = createKysely(tdb.url, { max: CLAIMERS + 2 });
    await migrateEventStore(db);
    store = new PostgresEventStore(db);
    const batcher = inventoryBatcher(store);
    hosts = new HostCommands(batcher);
    vms = new VmCommands(batcher, async () => new Set());
    claims = new ClaimCommands(batcher);
  });

  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  const compose = async (vmId: string, vcpus: number): Promise<void> => {
    await vms.compose({
      vmId,
      spec: vmSpecInput({ name: vmId, vcpus, memoryBytes: GiB }),
    });
  };

  const claimFor = async (vmId: string, hostId: string, vcpus: number): Promise<{ claim: Claim; generation: number }> => {
    const host = await hosts.get(hostId);
    const fit = fits(hostSnapshotOf(host), { ...(await vms.get(vmId)).vm.core.spec, vcpus });
    if (!fit.ok) throw new Error(`${vmId} does not fit ${hostId}`);
    return { claim: fit.claim, generation: host.generation };
  };

  it('8 claimers racing for the last vCPU of 50 hosts: one winner per host, every loser a conflict, never overbooked', async () => {
    const hostIds = Array.from({ length: HOSTS }, (_, i) => `race-${i}`);
    // Each host: 4 vCPUs, 3 already claimed, so exactly one 1-vCPU claim can still win.
    await Promise.all(
      hostIds.map(async (hostId) => {
        await hosts.register({ hostId, spec: hostSpec({ name: hostId, cpus: 4, memoryBytes: 64 * GiB }) });
        await compose(`fill-${hostId}`, 3);
        const { claim, generation } = await claimFor(`fill-${hostId}`, hostId, 3);
        await claims.claim({ vmId: `fill-${hostId}`, hostId, expectedGeneration: generation, claim, explanation: {}, alternates: [] });
      }),
    );
    // Every claimer decides from the same view (generation 2 everywhere), as replicas of a stateless scheduler would.
    const attempts = (
      await Promise.all(
        hostIds.map(async (hostId) => {
          const host = await hosts.get(hostId);
          return Promise.all(
            Array.from({ length: CLAIMERS }, async (_, claimer) => {
              const vmId = `racer-${claimer}-${hostId}`;
              await compose(vmId, 1);
              const fit = fits(hostSnapshotOf(host), { ...(await vms.get(vmId)).vm.core.spec });
              if (!fit.ok) throw new Error(`${vmId} does not fit ${hostId}`);
              return { claimer, hostId, vmId, claim: fit.claim, generation: host.generation };
            }),
          );
        }),
      )
    ).flat();
    expect(new Set(attempts.map((a) => a.generation))).toEqual(new Set([2]));

    const outcomes = await Promise.all(
      Array.from({ length: CLAIMERS }, async (_, c) => {
        // Each claimer has its own batcher (its own cache and statements), as separate inventory replicas would.
        const claimer = new ClaimCommands(inventoryBatcher(store));
        const mine = attempts.filter((a) => a.claimer === c);
        // Different orders, so claimers meet each other on different hosts at different times.
        if (c % 2 === 1) mine.reverse();
        const results: { hostId: string; vmId: string; outcome: 'won' | 'conflict' | 'no-fit' | 'other' }[] = [];
        for (const a of mine) {
          try {
            await claimer.claim({
              vmId: a.vmId,
              hostId: a.hostId,
              expectedGeneration: a.generation,
              claim: a.claim,
              explanation: { claimer: c },
              alternates: [],
            });
            results.push({ hostId: a.hostId, vmId: a.vmId, outcome: 'won' });
          } catch (e) {
            const outcome = e instanceof ConcurrencyError ? 'conflict' : e instanceof IllegalStateError ? 'no-fit' : 'other';
            results.push({ hostId: a.hostId, vmId: a.vmId, outcome });
          }
        }
        return results;
      }),
    );
    const all = outcomes.flat();
    expect(all.filter((r) => r.outcome === 'other')).toEqual([]);
    expect(all.filter((r) => r.outcome === 'no-fit')).toEqual([]);
    for (const hostId of hostIds) {
      expect(
        all.filter((r) => r.hostId === hostId && r.outcome === 'won'),
        hostId,
      ).toHaveLength(1);
      expect(
        all.filter((r) => r.hostId === hostId && r.outcome === 'conflict'),
        hostId,
      ).toHaveLength(CLAIMERS - 1);
    }

    // A loser retrying with fresh data learns the resource is gone (it does not fit any more).
    const loser = all.find((r) => r.outcome === 'conflict')!;
    const fresh = await hosts.get(loser.hostId);
    const stale = attempts.find((a) => a.vmId === loser.vmId)!;
    await expect(
      claims.claim({
        vmId: loser.vmId,
        hostId: loser.hostId,
        expectedGeneration: fresh.generation,
        claim: stale.claim,
        explanation: {},
        alternates: [],
      }),
    ).rejects.toBeInstanceOf(IllegalStateError);

    // At every prefix of every host's log, nothing is overbooked; the log holds one winner per host.
    for (const hostId of hostIds) {
      const { events } = await store.readStream(inventoryEvents.hostStreamId(hostId));
      expect(auditHostStream(events), hostId).toEqual([]);
      expect(events.filter((e) => e.type === 'ResourcesClaimed')).toHaveLength(2);
      const winner = all.find((r) => r.hostId === hostId && r.outcome === 'won')!;
      expect((await vms.get(winner.vmId)).vm.status).toBe('placed');
    }
  });

  it('a retried claim (same command id) appends nothing and answers as the first time', async () => {
    await hosts.register({ hostId: 'idem', spec: hostSpec({ name: 'idem', cpus: 2 }) });
    await compose('idem-vm', 1);
    const { claim, generation } = await claimFor('idem-vm', 'idem', 1);
    const req = {
      commandId: 'cmd-idem-1',
      vmId: 'idem-vm',
      hostId: 'idem',
      expectedGeneration: generation,
      claim,
      explanation: {},
      alternates: [],
    };
    const first = await claims.claim(req);
    const second = await claims.claim(req);
    expect(second.generation).toBe(first.generation);
    expect(second.vm.vm.status).toBe('placed');
    expect((await store.readStream(inventoryEvents.hostStreamId('idem'))).version).toBe(first.generation);
  });

  it('a claim under an id that already placed the VM on another host is refused, naming that host, and appends nothing', async () => {
    // Two scheduler replicas that took the same delivery claim under the same command id, each on its own choice.
    await hosts.register({ hostId: 'twin-a', spec: hostSpec({ name: 'twin-a', cpus: 2 }) });
    await hosts.register({ hostId: 'twin-b', spec: hostSpec({ name: 'twin-b', cpus: 2 }) });
    await compose('twin-vm', 1);
    const onA = await claimFor('twin-vm', 'twin-a', 1);
    const onB = await claimFor('twin-vm', 'twin-b', 1);
    const common = { commandId: 'cmd-twin-1', vmId: 'twin-vm', explanation: {}, alternates: [] };
    await claims.claim({ ...common, hostId: 'twin-a', expectedGeneration: onA.generation, claim: onA.claim });
    const bVersion = (await store.readStream(inventoryEvents.hostStreamId('twin-b'))).version;
    await expect(claims.claim({ ...common, hostId: 'twin-b', expectedGeneration: onB.generation, claim: onB.claim })).rejects.toThrow(
      new IllegalStateError('cannot place VM twin-vm on twin-b: command cmd-twin-1 placed it on twin-a already'),
    );
    expect((await store.readStream(inventoryEvents.hostStreamId('twin-b'))).version).toBe(bVersion);
    expect((await hosts.get('twin-b')).claims).toEqual([]);
    expect((await vms.get('twin-vm')).vm).toMatchObject({ status: 'placed', placement: { hostId: 'twin-a' } });
  });

  it('releasing returns exactly what the claim took', async () => {
    const before = await hosts.get('idem');
    const gen = await claims.releaseClaim({ vmId: 'idem-vm', hostId: 'idem', reason: 'test' });
    const after = await hosts.get('idem');
    expect(gen).toBe(before.generation + 1);
    expect(after.claims).toEqual([]);
    const { events } = await store.readStream(inventoryEvents.hostStreamId('idem'));
    const claimed = events.find((e) => e.type === 'ResourcesClaimed')!.data as inventoryEvents.ResourcesClaimed;
    const released = events.find((e) => e.type === 'ClaimReleased')!.data as inventoryEvents.ClaimReleased;
    expect(released.claim).toEqual(claimed.claim);
  });
});
