import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { hostSnapshot, vmSpec, type HostSnapshot } from '@berth/fit';
import { ensureStreams, openKv, startConsumer, type RunningConsumer } from '@berth/messaging';
import { createLogger } from '@berth/observability';
import { connectTestNats, deletePrefixedStreams, eventually, infraAvailable, testSubjectPrefix } from '@berth/testing';
import { DecisionLog } from '../../application/decision-log.ts';
import type { PlaceVmDeps } from '../../application/place-vm.ts';
import { FakeInventory } from '../../testing/fake-ports.ts';
import { EMPTY_COST_CONFIG, ScoringEngine, policyTable } from '../scoring/scoring-engine.ts';
import { publishRaw, vmRequested } from '../../testing/nats.ts';
import { PositionGate, ViewPosition } from '../../application/view-position.ts';
import { kvSnapshotSource, VIEW_POSITION_KEY, watchHostSnapshots, watchViewPosition, type SnapshotWatch } from './snapshot-watch.ts';
import { vmRequestedHandler } from './vm-requested.ts';

const GiB = 1024 ** 3;
const logger = createLogger('scheduler-test', { level: 'warn' });

describe.skipIf(!(await infraAvailable('nats')))('scheduler over real NATS', () => {
  const prefix = testSubjectPrefix('sched');
  let nc: NatsConnection;
  let kv: KV;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    nc = await connectTestNats();
    await ensureStreams(nc, { prefix });
    kv = (await openKv(nc, 'berth-host-snapshots', { prefix })).kv;
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
  });

  const put = (s: HostSnapshot) => kv.put(s.capacity.hostId, JSON.stringify(s));

  async function startWatch(engine: ScoringEngine): Promise<SnapshotWatch> {
    const w = await watchHostSnapshots(kv, engine, logger);
    stops.push(() => w.stop());
    return w;
  }

  it("reaches inventory's view position (its own bucket) only once the host watch has applied the host revision it names", async () => {
    const positions = (await openKv(nc, 'berth-view-position', { prefix })).kv;
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
    const position = new ViewPosition();
    const gate = new PositionGate(position);
    const r1 = await put(hostSnapshot({ hostId: 'vp1', cpus: 8 }, 1));
    // Written by inventory after the snapshots up to the revision it names; here it names one not yet written.
    const ahead = { transactionId: '900', position: '9000', hostsRevision: r1 + 2 };
    await positions.put(VIEW_POSITION_KEY, JSON.stringify(ahead));
    const watch = await watchHostSnapshots(kv, engine, logger, gate);
    stops.push(() => watch.stop());
    const pw = await watchViewPosition(positions, gate, logger);
    stops.push(() => pw.stop());
    await watch.ready;
    await new Promise((r) => setTimeout(r, 300));
    expect(engine.get('vp1')?.generation).toBe(1);
    expect(position.current()).toBeUndefined();

    await put(hostSnapshot({ hostId: 'vp2', cpus: 8 }, 1));
    expect(position.current()).toBeUndefined();
    const r3 = await put(hostSnapshot({ hostId: 'vp3', cpus: 8 }, 1));
    expect(r3).toBe(ahead.hostsRevision);
    await eventually(() => position.reached(ahead), 'the position once vp3 is in the view');
    expect(engine.get('vp3')?.generation).toBe(1);
    // The host bucket holds hosts only: nothing in it is a position any more.
    for await (const key of await kv.keys()) expect(key.startsWith('_')).toBe(false);

    // A malformed record is skipped; the next good one advances the position.
    await positions.put(VIEW_POSITION_KEY, JSON.stringify({ transactionId: 'x', position: '1' }));
    const next = { transactionId: '901', position: '9001', hostsRevision: r3 };
    await positions.put(VIEW_POSITION_KEY, JSON.stringify(next));
    await eventually(() => position.reached(next), 'the next position');
    // The bucket is shared by this file's tests: the hosts go.
    for (const h of ['vp1', 'vp2', 'vp3']) await kv.delete(h);
  });

  it('rebuilds the whole view from the bucket, then follows puts and deletes, never going back a generation', async () => {
    await put(hostSnapshot({ hostId: 'w1', cpus: 8 }, 3));
    await put(hostSnapshot({ hostId: 'w2', cpus: 8 }, 1));
    await kv.put('garbage', 'not json');
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
    const watch = await startWatch(engine);
    await watch.ready;
    expect(watch.isReady()).toBe(true);
    expect([engine.get('w1')?.generation, engine.get('w2')?.generation, engine.get('garbage')]).toEqual([3, 1, undefined]);

    await put(hostSnapshot({ hostId: 'w1', cpus: 16 }, 4));
    await eventually(() => engine.get('w1')?.generation === 4, 'generation 4 of w1');
    // A direct read racing the watch can deliver an older snapshot; it must not win.
    engine.upsert(hostSnapshot({ hostId: 'w1', cpus: 1 }, 2));
    expect(engine.get('w1')?.capacity.cpus).toBe(16);

    await kv.delete('w2');
    await eventually(() => engine.get('w2') === undefined, 'w2 removed');
    expect(await kvSnapshotSource(kv, logger).get('w1')).toMatchObject({ generation: 4 });
    expect(await kvSnapshotSource(kv, logger).get('w2')).toBeUndefined();
    for (const id of ['w1', 'garbage']) await kv.delete(id);
  });

  it('skips, unparsed, bucket updates of a generation the view already holds (its own claims coming back)', async () => {
    await put(hostSnapshot({ hostId: 's1', cpus: 8 }, 3));
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
    const watch = await startWatch(engine);
    await watch.ready;
    await eventually(() => engine.get('s1')?.generation === 3, 's1 at generation 3');
    // This replica's claim, applied locally (generation 4) before the bucket has it.
    const claim = {
      vmId: 'mine',
      hostId: 's1',
      vcpus: 2,
      memoryBytes: GiB,
      pinnedCpus: [],
      numaCells: [],
      hugepages: [],
      devices: [],
      vfs: [],
      volumes: [],
      affinityGroups: [],
    };
    engine.applyClaim(claim);
    // Generations 4 and 2 in the bucket are not applied (marked here by a capacity the view must not take);
    // generation 5 is, and a malformed value is still only skipped.
    await put({ ...hostSnapshot({ hostId: 's1', cpus: 99 }, 4), claims: [claim] });
    await put(hostSnapshot({ hostId: 's1', cpus: 98 }, 2));
    await kv.put('s1', 'not json');
    // The watch applies entries in order: once the marker is in, the updates of s1 before it were seen.
    await put(hostSnapshot({ hostId: 's-marker', cpus: 1 }, 1));
    await eventually(() => engine.get('s-marker') !== undefined, 'the marker host');
    expect(engine.get('s1')).toMatchObject({ generation: 4, capacity: { cpus: 8 }, claims: [{ vmId: 'mine' }] });
    await put({ ...hostSnapshot({ hostId: 's1', cpus: 16 }, 5), claims: [claim] });
    await eventually(() => engine.get('s1')?.generation === 5, 's1 at generation 5');
    expect(engine.get('s1')).toMatchObject({ capacity: { cpus: 16 }, claims: [{ vmId: 'mine' }] });
    for (const id of ['s1', 's-marker']) await kv.delete(id);
  });

  it('consumes VmRequested: claims on the best host, takes the next alternate after a rejection, terms poison', async () => {
    const hosts = [
      hostSnapshot({ hostId: 'c1', cpus: 4, memoryBytes: 8 * GiB }, 1),
      hostSnapshot({ hostId: 'c2', cpus: 64, memoryBytes: 256 * GiB }, 1),
    ];
    for (const h of hosts) await put(h);
    const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
    const watch = await startWatch(engine);
    await watch.ready;
    await eventually(() => engine.size >= 2, 'two hosts');

    // Pack opens the largest empty host first (c2); it is refused once (another replica got there
    // first), so the VM must land on the alternate c1.
    const inventory = new FakeInventory({ c2: [{ kind: 'generation-moved', detail: 'host c2 is at generation 2' }] });
    const deps: PlaceVmDeps = {
      engine,
      view: engine,
      source: kvSnapshotSource(kv, logger),
      inventory,
      decisions: new DecisionLog(),
      maxAttempts: 5,
      alternates: 3,
      hostSubsetSize: 1,
      random: Math.random,
      now: () => new Date(),
    };
    const consumer: RunningConsumer = await startConsumer({
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable: 'scheduler-vm-requested',
      filterSubject: 'berth.inventory.vm.*.VmRequested',
      maxDeliver: 3,
      backoffMillis: [100],
      ackWaitMillis: 5000,
      handle: vmRequestedHandler({ deps, maxDeliver: 3, isReady: () => watch.isReady(), logger }),
      logger,
    });
    stops.push(() => consumer.stop());

    const small = vmRequested(vmSpec({ vmId: 'vm-small', vcpus: 2, memoryBytes: 2 * GiB }));
    const huge = vmRequested(vmSpec({ vmId: 'vm-huge', vcpus: 500 }));
    await publishRaw(nc, prefix, JSON.stringify(small), small.id);
    await publishRaw(nc, prefix, '{"not": "an envelope"', 'poison-1');
    await publishRaw(nc, prefix, JSON.stringify(huge), huge.id);

    await eventually(() => inventory.failures.length === 1, 'placement failure of vm-huge');
    expect(inventory.claims.map((c) => `${c.vmId}@${c.hostId}:${c.expectedGeneration}`)).toEqual(['vm-small@c2:1', 'vm-small@c1:1']);
    expect(inventory.failures[0]).toMatchObject({
      vmId: 'vm-huge',
      reason: expect.stringContaining('0/2 hosts can take vm-huge') as string,
    });
    expect(deps.decisions.get('vm-small')).toMatchObject({ outcome: 'placed', hostId: 'c1', attempts: 2 });
    const jsm = await jetstreamManager(nc);
    const dead = await eventually(
      () =>
        jsm.streams
          .getMessage(`${prefix.toUpperCase()}_BERTH_DLQ`, { last_by_subj: `${prefix}.berth.dlq.scheduler-vm-requested` })
          .catch(() => undefined),
      'the poison message in the dead-letter stream',
    );
    expect(dead?.string()).toBe('{"not": "an envelope"');
  });
});
