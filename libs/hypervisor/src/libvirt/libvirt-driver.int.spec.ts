import { execFileSync } from 'node:child_process';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import type { LifecycleEvent } from '../driver.ts';
import { domainUuid } from '../naming.ts';
import { libvirtUsable, startTestLibvirtd, type TestLibvirtd } from '../testing/libvirtd.ts';
import { LibvirtDriver } from './libvirt-driver.ts';

// Checks go through virsh itself, not through the driver under test.
const virsh = (uri: string, ...args: string[]): string => execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8' });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed XML is checked by the assertions
const parse = (x: string): any => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(x);

const spec = (vmId: string, over: Partial<DomainSpec> = {}): DomainSpec => ({
  vmId,
  title: `VM ${vmId}`,
  vcpus: 2,
  memoryBytes: 256 * 1024 ** 2,
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
});

describe.skipIf(!libvirtUsable())('LibvirtDriver against the libvirt test driver', () => {
  let daemon: TestLibvirtd;
  let driver: LibvirtDriver;
  const events: LifecycleEvent[] = [];

  beforeAll(async () => {
    daemon = await startTestLibvirtd('driver');
    driver = new LibvirtDriver({ uri: daemon.uri, pollMillis: 50 });
    await driver.events((e) => events.push(e));
  });
  afterAll(async () => {
    await driver?.close();
    await daemon?.stop();
  });

  it('defines, starts, lists, stops, destroys and undefines a domain', async () => {
    await driver.defineAndStart(spec('life'));
    expect(virsh(daemon.uri, 'domstate', 'berth-life').trim()).toBe('running');
    expect(await driver.state('life')).toBe('running');
    expect(await driver.listDomains()).toContainEqual({ name: 'berth-life', vmId: 'life', state: 'running' });
    expect(await driver.stop('life', { gracefulTimeoutMillis: 2000 })).toBe('graceful');
    expect(virsh(daemon.uri, 'domstate', 'berth-life').trim()).toBe('shut off');
    expect(await driver.stop('life', { gracefulTimeoutMillis: 2000 })).toBe('already-stopped');
    await driver.start('life');
    await driver.destroy('life');
    expect(await driver.state('life')).toBe('shut-off');
    await driver.undefine('life');
    expect(await driver.state('life')).toBeUndefined();
    expect(virsh(daemon.uri, 'list', '--all', '--name')).not.toContain('berth-life');
    await driver.undefine('life');
  });

  it('pins the claimed cores, read back through virsh dumpxml', async () => {
    await driver.defineAndStart(
      spec('pinned', {
        vcpus: 4,
        pinnedCpus: [4, 5, 12, 13],
        numaCells: [
          { hostNode: 0, vcpus: 2, memoryBytes: 128 * 1024 ** 2 },
          { hostNode: 1, vcpus: 2, memoryBytes: 128 * 1024 ** 2 },
        ],
      }),
    );
    const d = parse(virsh(daemon.uri, 'dumpxml', 'berth-pinned')).domain;
    expect((d.cputune.vcpupin as { cpuset: string }[]).map((p) => p.cpuset)).toEqual(['4', '5', '12', '13']);
    expect(d.numatune.memory.nodeset).toBe('0-1');
    expect(d.uuid).toBe(domainUuid('pinned'));
  });

  it('defining again on retry keeps one domain with the same UUID', async () => {
    await driver.defineAndStart(spec('retry'));
    await driver.defineAndStart(spec('retry'));
    const names = virsh(daemon.uri, 'list', '--all', '--name')
      .split('\n')
      .filter((n) => n.trim() === 'berth-retry');
    expect(names).toHaveLength(1);
    expect(virsh(daemon.uri, 'domuuid', 'berth-retry').trim()).toBe(domainUuid('retry'));
  });

  it('creates sparse volumes in the pool and removes them with the domain', async () => {
    await driver.defineAndStart(spec('disky', { volumes: [{ name: 'berth-disky-disk0', pool: 'default-pool', sizeBytes: 1024 ** 3 }] }));
    expect(virsh(daemon.uri, 'vol-list', 'default-pool')).toContain('berth-disky-disk0');
    const vol = parse(virsh(daemon.uri, 'vol-dumpxml', '--pool', 'default-pool', 'berth-disky-disk0')).volume;
    expect(Number(vol.capacity['#text'])).toBe(1024 ** 3);
    await driver.undefine('disky');
    expect(virsh(daemon.uri, 'vol-list', 'default-pool')).not.toContain('berth-disky-disk0');
  });

  it("removes the volumes of a VM whose domain is already gone, and no other VM's", async () => {
    for (const vol of ['berth-orphan-disk0', 'berth-orphan-disk1', 'berth-orphan-x-disk0'])
      virsh(daemon.uri, 'vol-create-as', 'default-pool', vol, '1M');
    await driver.undefine('orphan');
    const left = virsh(daemon.uri, 'vol-list', 'default-pool');
    expect(left).not.toMatch(/berth-orphan-disk\d/);
    expect(left).toContain('berth-orphan-x-disk0');
  });

  it('reports memory statistics, balloon target and host facts', async () => {
    await driver.defineAndStart(spec('mem'));
    expect((await driver.memoryStats('mem')).actualBytes).toBe(256 * 1024 ** 2);
    await driver.setBalloonTarget('mem', 128 * 1024 ** 2);
    expect((await driver.memoryStats('mem')).actualBytes).toBe(128 * 1024 ** 2);
    const facts = await driver.hostFacts();
    expect(facts.cpus).toBe(16);
    expect(facts.numaNodes.map((n) => n.cpus.length)).toEqual([8, 8]);
  });

  it('streams lifecycle events: started and stopped', async () => {
    await driver.defineAndStart(spec('evt'));
    await driver.destroy('evt');
    await expect
      .poll(() => events.filter((e) => e.vmId === 'evt').map((e) => e.kind))
      .toEqual(expect.arrayContaining(['defined', 'started', 'stopped']));
  });

  it('classifies a missing domain as not-found and a dead daemon as transient', async () => {
    await expect(driver.memoryStats('nope')).rejects.toMatchObject({ kind: 'not-found' });
    const dead = new LibvirtDriver({ uri: 'test+unix:///default?socket=/nonexistent/sock', callTimeoutMillis: 5000 });
    await expect(dead.listDomains()).rejects.toMatchObject({ kind: 'transient' });
  });
});
