/**
 * The driver contract: one suite every backend runs (simulator, libvirt's test driver, LXD), so the
 * backends cannot drift. Operations a backend does not offer are gated by its declared capabilities.
 * Test-only (imports vitest); import it by path from a spec file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import type { HypervisorDriver, LifecycleEvent } from '../driver.ts';

export interface ContractTarget {
  readonly driver: HypervisorDriver;
  /** The storage pool volumes are created in. */
  readonly pool: string;
  /** The hypervisor's own name for the VM's domain/instance. */
  readonly domainName: (vmId: string) => string;
  /** Names of the volumes in the pool, read through the hypervisor's own tools (undefined: not observable). */
  readonly volumes?: () => Promise<string[]>;
  /** Whether a volume name belongs to this VM's disks as the backend names them. */
  readonly isVolumeOf?: (vmId: string, volume: string) => boolean;
  readonly cleanup?: () => Promise<void>;
}

export function contractSpec(vmId: string, over: Partial<DomainSpec> = {}): DomainSpec {
  return {
    vmId,
    title: `VM ${vmId}`,
    vcpus: 1,
    memoryBytes: 128 * 1024 ** 2,
    pinnedCpus: [],
    numaCells: [],
    passthroughCpu: false,
    hostdevs: [],
    vfs: [],
    volumes: [],
    lazyAllocation: true,
    diskCache: 'default',
    networks: [],
    ...over,
  };
}

export function driverContract(label: string, setup: () => Promise<ContractTarget>): void {
  describe(`driver contract: ${label}`, () => {
    let t: ContractTarget;
    let d: HypervisorDriver;
    const events: LifecycleEvent[] = [];
    let sub: { close(): Promise<void> } | undefined;

    beforeAll(async () => {
      t = await setup();
      d = t.driver;
      if (d.capabilities.lifecycleEvents) sub = await d.events((e) => events.push(e));
    });
    afterAll(async () => {
      await sub?.close();
      await t?.cleanup?.();
    });

    it('defines and starts, lists, stops gracefully, starts, reboots, destroys and undefines', async () => {
      await d.defineAndStart(contractSpec('k-life'));
      expect(await d.state('k-life')).toBe('running');
      expect(await d.listDomains()).toContainEqual({ name: t.domainName('k-life'), vmId: 'k-life', state: 'running' });
      expect(await d.stop('k-life', { gracefulTimeoutMillis: 10_000 })).toBe('graceful');
      expect(await d.state('k-life')).toBe('shut-off');
      expect(await d.stop('k-life', { gracefulTimeoutMillis: 1000 })).toBe('already-stopped');
      await d.start('k-life');
      await d.start('k-life');
      expect(await d.state('k-life')).toBe('running');
      await d.reboot('k-life');
      await expect.poll(() => d.state('k-life'), { timeout: 15_000 }).toBe('running');
      await d.destroy('k-life');
      expect(await d.state('k-life')).toBe('shut-off');
      await d.destroy('k-life');
      await d.undefine('k-life');
      expect(await d.state('k-life')).toBeUndefined();
      expect((await d.listDomains()).map((x) => x.name)).not.toContain(t.domainName('k-life'));
      await d.undefine('k-life');
    });

    it('a retried defineAndStart keeps exactly one domain', async () => {
      await d.defineAndStart(contractSpec('k-retry'));
      await d.defineAndStart(contractSpec('k-retry'));
      expect((await d.listDomains()).filter((x) => x.vmId === 'k-retry')).toHaveLength(1);
      await d.undefine('k-retry');
    });

    it('creates the volumes of the spec and removes them with the domain', async () => {
      const volumes = t.volumes;
      const isVolumeOf = t.isVolumeOf;
      if (!volumes || !isVolumeOf) return expect(t.volumes).toBeUndefined();
      const spec = contractSpec('k-disks', {
        volumes: [0, 1].map((i) => ({ name: `berth-k-disks-disk${i}`, pool: t.pool, sizeBytes: 64 * 1024 ** 2 })),
      });
      await d.defineAndStart(spec);
      await d.createVolumes(spec);
      const mine = (await volumes()).filter((v) => isVolumeOf('k-disks', v));
      expect(mine.length).toBeGreaterThan(0);
      await d.undefine('k-disks');
      expect((await volumes()).filter((v) => isVolumeOf('k-disks', v))).toEqual([]);
    });

    it('answers for a missing domain: undefined state, not-found errors, idempotent stop/destroy/undefine', async () => {
      expect(await d.state('k-missing')).toBeUndefined();
      await expect(d.start('k-missing')).rejects.toMatchObject({ kind: 'not-found' });
      if (d.capabilities.memoryStats) await expect(d.memoryStats('k-missing')).rejects.toMatchObject({ kind: 'not-found' });
      expect(await d.stop('k-missing', { gracefulTimeoutMillis: 1000 })).toBe('already-stopped');
      await d.destroy('k-missing');
      await d.undefine('k-missing');
    });

    it('reports memory statistics and applies a balloon target', async () => {
      await d.defineAndStart(contractSpec('k-mem', { memoryBytes: 256 * 1024 ** 2 }));
      expect((await d.memoryStats('k-mem')).actualBytes).toBe(256 * 1024 ** 2);
      if (d.capabilities.balloon) {
        await d.setBalloonTarget('k-mem', 192 * 1024 ** 2);
        expect((await d.memoryStats('k-mem')).actualBytes).toBe(192 * 1024 ** 2);
      }
      await d.undefine('k-mem');
    });

    it('reports host facts', async () => {
      const f = await d.hostFacts();
      expect(f.cpus).toBeGreaterThan(0);
      expect(f.memoryBytes).toBeGreaterThan(0);
      expect(f.topology.sockets * f.topology.coresPerSocket * f.topology.threadsPerCore).toBeGreaterThan(0);
    });

    it('streams started and stopped lifecycle events', async () => {
      if (!d.capabilities.lifecycleEvents) return expect(sub).toBeUndefined();
      await d.defineAndStart(contractSpec('k-evt'));
      await d.destroy('k-evt');
      await expect
        .poll(() => events.filter((e) => e.vmId === 'k-evt').map((e) => e.kind), { timeout: 10_000 })
        .toEqual(expect.arrayContaining(['started', 'stopped']));
      await d.undefine('k-evt');
    });

    it('refuses migration as a permanent error when it declares none', async () => {
      if (d.capabilities.liveMigration) return expect(d.capabilities.liveMigration).toBe(true);
      await expect(d.migrate('k-life', { destinationUri: 'qemu:///system' })).rejects.toMatchObject({ kind: 'permanent' });
    });
  });
}
