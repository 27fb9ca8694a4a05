import { describe, expect, it, vi } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import type { LifecycleEvent } from '../driver.ts';
import { SimulatorFleet } from './simulator.ts';

const spec = (vmId: string): DomainSpec => ({
  vmId,
  title: vmId,
  vcpus: 1,
  memoryBytes: 1024 ** 3,
  pinnedCpus: [],
  numaCells: [],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [],
  lazyAllocation: true,
  diskCache: 'default',
  networks: [],
});

describe('SimulatorFleet', () => {
  it('runs domains idempotently per host and streams their lifecycle', async () => {
    const fleet = new SimulatorFleet();
    const d = fleet.driver(fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 16 * 1024 ** 3, numaNodes: 2 }));
    const seen: LifecycleEvent[] = [];
    const sub = await d.events((e) => seen.push(e));
    await d.defineAndStart(spec('a'));
    await d.defineAndStart(spec('a'));
    expect(await d.listDomains()).toEqual([{ name: 'berth-a', vmId: 'a', state: 'running' }]);
    expect(await d.stop('a', { gracefulTimeoutMillis: 10 })).toBe('graceful');
    await d.undefine('a');
    expect(await d.state('a')).toBeUndefined();
    expect(seen.map((e) => e.kind)).toEqual(['started', 'stopped', 'undefined']);
    expect((await d.hostFacts()).numaNodes.map((n) => n.cpus)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    await sub.close();
  });

  it('injects failures of the chosen kind, then recovers', async () => {
    const fleet = new SimulatorFleet();
    const d = fleet.driver(fleet.addHost({ hostId: 'h1', cpus: 4, memoryBytes: 1024 ** 3 }));
    fleet.injectFailure('h1', 'define', 'transient', 1);
    fleet.injectFailure('h1', 'start', 'permanent', 1);
    await expect(d.defineAndStart(spec('b'))).rejects.toMatchObject({ kind: 'transient' });
    await expect(d.defineAndStart(spec('b'))).rejects.toMatchObject({ kind: 'permanent' });
    await d.defineAndStart(spec('b'));
    expect(await d.state('b')).toBe('running');
  });

  it('moves a domain on migrate and rejects URIs of unknown hosts', async () => {
    const fleet = new SimulatorFleet({ migration: { timeScale: 1000, stepMillis: 1 } });
    const a = fleet.driver(fleet.addHost({ hostId: 'a', cpus: 4, memoryBytes: 1024 ** 3 }));
    const b = fleet.driver(fleet.addHost({ hostId: 'b', cpus: 4, memoryBytes: 1024 ** 3 }));
    await a.defineAndStart(spec('m'));
    expect(await a.migrate('m', { destinationUri: 'sim://b' })).toEqual({ outcome: 'completed' });
    expect(await a.state('m')).toBeUndefined();
    expect(await b.state('m')).toBe('running');
    await expect(fleet.driver('sim://zz').listDomains()).rejects.toMatchObject({ kind: 'transient' });
  });

  it("copies a stopped domain's volumes to another host in the time their size takes at the bandwidth", async () => {
    vi.useFakeTimers();
    try {
      const fleet = new SimulatorFleet({ migration: { defaultBandwidthBytesPerSecond: 1024 ** 3, timeScale: 1 } });
      const h1 = fleet.driver(fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 16 * 1024 ** 3 }));
      const h2 = fleet.driver(fleet.addHost({ hostId: 'h2', cpus: 8, memoryBytes: 16 * 1024 ** 3 }));
      const withDisk: DomainSpec = { ...spec('v1'), volumes: [{ pool: 'p', name: 'berth-v1-disk0', sizeBytes: 2 * 1024 ** 3 }] };
      await h1.createVolumes(withDisk);
      await h1.define(withDisk);
      let done = false;
      const copy = h1.copyVolumes(withDisk, { destinationUri: 'sim://h2' }).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(1900); // 2 GiB at 1 GiB/s: 2 simulated seconds
      expect(done).toBe(false);
      expect(fleet.volumes('h2')).toEqual([]);
      await vi.advanceTimersByTimeAsync(200);
      await copy;
      expect(fleet.volumes('h2')).toEqual(['p/berth-v1-disk0']);
      await h2.define(withDisk);
      await h1.undefine('v1');
      expect(fleet.volumes('h1')).toEqual([]);
      // Shared storage: the source's undefine keeps them.
      await h2.undefine('v1', { keepVolumes: true });
      expect(fleet.volumes('h2')).toEqual(['p/berth-v1-disk0']);
      await expect(h1.copyVolumes(withDisk, { destinationUri: 'sim://h2' })).rejects.toThrow(/no storage vol p\/berth-v1-disk0/);
    } finally {
      vi.useRealTimers();
    }
  });
});
