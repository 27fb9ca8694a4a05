import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@berth/testing';
import type { DomainSpec } from '../domain-spec.ts';
import type { MigrationProgress } from '../driver.ts';
import { MigrationError } from '../errors.ts';
import { libvirtUsable } from '../testing/libvirtd.ts';
import { startMigrationPair, withPreloadedMemory, writeMemoryBlob, type MigrationPair } from '../testing/migration-pair.ts';
import { buildDomainXml } from './domain-xml.ts';
import { LibvirtDriver } from './libvirt-driver.ts';

const qemuInstalled = (): boolean => {
  try {
    execFileSync('qemu-system-x86_64', ['--version']);
    return true;
  } catch {
    if (process.env['REQUIRE_INFRA'] === '1') throw new Error('REQUIRE_INFRA=1 but qemu-system-x86_64 is not installed');
    return false;
  }
};

const MIB = 1024 ** 2;
const spec = (vmId: string, memoryBytes = 64 * MIB): DomainSpec => ({
  vmId,
  title: vmId,
  vcpus: 1,
  memoryBytes,
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

/** virsh as root against one daemon, as an operator would check. */
const virsh = (uri: string, ...args: string[]): string => execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8' }).trim();
const defineXml = (uri: string, xml: string): void => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-define-'));
  try {
    writeFileSync(join(dir, 'domain.xml'), xml);
    chmodSync(dir, 0o755);
    virsh(uri, 'define', join(dir, 'domain.xml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
const volumes = (uri: string): string[] =>
  virsh(uri, 'vol-list', 'default-pool')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
const names = (uri: string): string[] =>
  virsh(uri, 'list', '--all', '--name')
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);

// Two qemu:///session daemons (two hosts) and real TCG guests moved between them with virsh migrate.
describe.skipIf(!libvirtUsable() || !qemuInstalled())('LibvirtDriver live migration between two qemu:///session daemons', () => {
  let pair: MigrationPair;
  let src: LibvirtDriver;
  let dst: LibvirtDriver;
  beforeAll(async () => {
    pair = await startMigrationPair();
    src = new LibvirtDriver({ uri: pair.source.uri, pollMillis: 100 });
    dst = new LibvirtDriver({ uri: pair.destination.uri, pollMillis: 100 });
  });
  afterAll(async () => {
    await src?.close();
    await dst?.close();
    await pair?.stop();
  });

  it('moves a running guest: running on the destination with a persistent definition, gone from the source', async () => {
    await src.defineAndStart(spec('live-a'));
    expect(virsh(pair.source.uri, 'domstate', 'berth-live-a')).toBe('running');
    const result = await src.migrate('live-a', { ...pair.toDestination, progressIntervalMillis: 200 });
    expect(result).toEqual({ outcome: 'completed' });
    expect(virsh(pair.destination.uri, 'domstate', 'berth-live-a')).toBe('running');
    expect(virsh(pair.destination.uri, 'dominfo', 'berth-live-a')).toMatch(/^Persistent:\s+yes$/m);
    expect(names(pair.source.uri)).not.toContain('berth-live-a');
    expect(await src.state('live-a')).toBeUndefined();
    expect(await dst.state('live-a')).toBe('running');
    expect(await src.migrationJob('live-a')).toBeUndefined();
    await dst.undefine('live-a');
    expect(names(pair.destination.uri)).not.toContain('berth-live-a');
  });

  it('copies a disk with copyStorage (the volume is created in the destination pool of the same name)', async () => {
    const withDisk: DomainSpec = {
      ...spec('live-disk'),
      volumes: [{ pool: 'default-pool', name: 'berth-live-disk-disk0', sizeBytes: 16 * MIB }],
    };
    await src.defineAndStart(withDisk);
    expect(await src.migrate('live-disk', { ...pair.toDestination, copyStorage: true })).toEqual({ outcome: 'completed' });
    expect(virsh(pair.destination.uri, 'domstate', 'berth-live-disk')).toBe('running');
    expect(virsh(pair.destination.uri, 'vol-list', 'default-pool')).toContain('berth-live-disk-disk0');
    expect(names(pair.source.uri)).not.toContain('berth-live-disk');
    // The source's copy of the disk goes once the guest runs from the destination's.
    expect(volumes(pair.source.uri)).not.toContain('berth-live-disk-disk0');
    await dst.undefine('live-disk');
    expect(virsh(pair.destination.uri, 'vol-list', 'default-pool')).not.toContain('berth-live-disk-disk0');
  });

  it("hands the destination its own pinning (--xml, --persistent-xml) and copies the disk into a volume created first; the source's volume goes", async () => {
    const MiB = MIB;
    // Pinned to host CPU 0 with its memory bound to node 0 on the source; the destination claim has CPU 1.
    const pinned = (cpu: number): DomainSpec => ({
      ...spec('live-pin'),
      pinnedCpus: [cpu],
      numaCells: [{ hostNode: 0, vcpus: 1, memoryBytes: 64 * MiB }],
      volumes: [{ pool: 'default-pool', name: 'berth-live-pin-disk0', sizeBytes: 8 * MiB }],
    });
    await src.createVolumes(pinned(0));
    const work = mkdtempSync(join(tmpdir(), 'berth-live-pin-'));
    try {
      const data = randomBytes(MiB);
      writeFileSync(join(work, 'up.bin'), data);
      virsh(pair.source.uri, 'vol-upload', '--pool', 'default-pool', 'berth-live-pin-disk0', join(work, 'up.bin'));
      await src.define(pinned(0));
      await src.start('live-pin');
      expect(virsh(pair.source.uri, 'vcpupin', 'berth-live-pin')).toMatch(/^0\s+0$/m);
      expect(volumes(pair.destination.uri)).not.toContain('berth-live-pin-disk0');

      const result = await src.migrate('live-pin', { ...pair.toDestination, destination: pinned(1), copyStorage: true });
      expect(result).toEqual({ outcome: 'completed' });
      expect(virsh(pair.destination.uri, 'domstate', 'berth-live-pin')).toBe('running');
      // Pinned to the destination's CPU, live and in the definition kept there.
      expect(virsh(pair.destination.uri, 'vcpupin', 'berth-live-pin')).toMatch(/^0\s+1$/m);
      expect(virsh(pair.destination.uri, 'dumpxml', 'berth-live-pin')).toMatch(/<vcpupin vcpu='0' cpuset='1'\/>/);
      expect(virsh(pair.destination.uri, 'dumpxml', '--inactive', 'berth-live-pin')).toMatch(/<vcpupin vcpu='0' cpuset='1'\/>/);
      expect(virsh(pair.destination.uri, 'dumpxml', '--inactive', 'berth-live-pin')).toMatch(
        /<memnode cellid='0' mode='strict' nodeset='0'\/>/,
      );
      // The disk arrived byte for byte; the source's copy is gone with the domain.
      virsh(pair.destination.uri, 'vol-download', '--pool', 'default-pool', 'berth-live-pin-disk0', join(work, 'down.bin'));
      expect(readFileSync(join(work, 'down.bin')).subarray(0, MiB).equals(data)).toBe(true);
      expect(names(pair.source.uri)).not.toContain('berth-live-pin');
      expect(volumes(pair.source.uri)).not.toContain('berth-live-pin-disk0');
      await dst.undefine('live-pin');
      expect(volumes(pair.destination.uri)).not.toContain('berth-live-pin-disk0');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a failed copy-storage migration deletes the volumes it created on the destination; the guest keeps running on the source', async () => {
    const withDisk: DomainSpec = {
      ...spec('live-nodisk'),
      volumes: [{ pool: 'default-pool', name: 'berth-live-nodisk-disk0', sizeBytes: 8 * MIB }],
    };
    await src.defineAndStart(withDisk);
    // The destination holds another domain of that name: libvirt refuses after the volume was created.
    defineXml(
      pair.destination.uri,
      buildDomainXml(spec('live-nodisk'), 'qemu', { userNetworking: true }).replace(
        /<uuid>[^<]*<\/uuid>/,
        '<uuid>00000000-0000-4000-8000-00000000d15c</uuid>',
      ),
    );
    const failure = await src.migrate('live-nodisk', { ...pair.toDestination, destination: withDisk, copyStorage: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(MigrationError);
    expect(virsh(pair.source.uri, 'domstate', 'berth-live-nodisk')).toBe('running');
    expect(volumes(pair.destination.uri)).not.toContain('berth-live-nodisk-disk0');
    expect(volumes(pair.source.uri)).toContain('berth-live-nodisk-disk0');
    await src.undefine('live-nodisk');
    virsh(pair.destination.uri, 'undefine', 'berth-live-nodisk');
  });

  it('fails permanently when the destination refuses the domain, and the guest keeps running on the source', async () => {
    await src.defineAndStart(spec('clash'));
    // The destination already holds another domain of that name (same name, another UUID): libvirt refuses.
    // (An inactive definition with the same UUID is the same domain: migrating onto it is fine.)
    defineXml(
      pair.destination.uri,
      buildDomainXml(spec('clash'), 'qemu', { userNetworking: true }).replace(
        /<uuid>[^<]*<\/uuid>/,
        '<uuid>00000000-0000-4000-8000-00000000c1a5</uuid>',
      ),
    );
    const failure = await src.migrate('clash', { ...pair.toDestination }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(MigrationError);
    expect(failure).toMatchObject({ failure: 'failed-permanent', kind: 'permanent' });
    expect(virsh(pair.source.uri, 'domstate', 'berth-clash')).toBe('running');
    expect(virsh(pair.destination.uri, 'domstate', 'berth-clash')).toBe('shut off');
    await src.undefine('clash');
    virsh(pair.destination.uri, 'undefine', 'berth-clash');
  });

  it('reports progress of a slow migration (1 MiB/s, non-zero guest RAM) and an abort leaves the guest running on the source', async () => {
    // 24 MiB of random data in guest RAM: at 1 MiB/s the migration would take about half a minute.
    const blob = writeMemoryBlob(pair.source, 24 * MIB);
    defineXml(pair.source.uri, withPreloadedMemory(buildDomainXml(spec('slow'), 'qemu', { userNetworking: true }), blob));
    await src.start('slow');
    const ctl = new AbortController();
    const seen: MigrationProgress[] = [];
    let polled: MigrationProgress | undefined;
    const migration = src.migrate('slow', {
      ...pair.toDestination,
      bandwidthMiBps: 1,
      progressIntervalMillis: 500,
      signal: ctl.signal,
      onProgress: (p) => {
        seen.push(p);
        if (seen.length === 3) {
          void src.migrationJob('slow').then(
            (j) => {
              polled = j;
              ctl.abort();
            },
            () => ctl.abort(),
          );
        }
      },
    });
    const failure = await migration.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(MigrationError);
    expect(failure).toMatchObject({ failure: 'aborted' });
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const p of seen) {
      expect(p.phase).toBe('precopy');
      expect(p.dataTotalBytes).toBeGreaterThan(24 * MIB);
      expect(p.dataProcessedBytes + p.dataRemainingBytes).toBeLessThanOrEqual(p.dataTotalBytes + MIB);
    }
    expect(seen.at(-1)!.dataProcessedBytes).toBeGreaterThan(seen[0]!.dataProcessedBytes);
    expect(seen.at(-1)!.dataRemainingBytes).toBeGreaterThan(MIB);
    expect(polled).toMatchObject({ phase: 'precopy', iteration: 1 });
    expect(polled!.dataProcessedBytes).toBeGreaterThanOrEqual(seen[1]!.dataProcessedBytes);
    expect(virsh(pair.source.uri, 'domstate', 'berth-slow')).toBe('running');
    expect(names(pair.destination.uri)).not.toContain('berth-slow');
    expect(await src.migrationJob('slow')).toBeUndefined();

    // A second migration of the same guest while one runs is refused as transient; an abort that comes
    // before any data moved still aborts (domjobabort is retried until the source has a job).
    const early = new AbortController();
    const again = src.migrate('slow', { ...pair.toDestination, bandwidthMiBps: 1, signal: early.signal });
    for (let i = 0; i < 100 && !(await src.migrationJob('slow')); i++) await new Promise((r) => setTimeout(r, 100));
    const twice = await src.migrate('slow', { ...pair.toDestination }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(twice).toMatchObject({ failure: 'failed-transient' });
    early.abort();
    expect(
      await again.then(
        () => undefined,
        (e: unknown) => e,
      ),
    ).toMatchObject({ failure: 'aborted' });
    expect(virsh(pair.source.uri, 'domstate', 'berth-slow')).toBe('running');
    expect(names(pair.destination.uri)).not.toContain('berth-slow');
    await src.undefine('slow');
  });

  // Post-copy needs userfaultfd for the unprivileged QEMU: the sysctl is set for this test and put back.
  it('switches to post-copy (abort refused), pauses on a broken post-copy and finishes with resumePostCopy', async (ctx) => {
    const sysctl = '/proc/sys/vm/unprivileged_userfaultfd';
    const before = readFileSync(sysctl, 'utf8').trim();
    try {
      writeFileSync(sysctl, '1');
    } catch (e) {
      if (process.env['REQUIRE_INFRA'] === '1') throw e;
      ctx.skip();
    }
    try {
      defineXml(
        pair.source.uri,
        withPreloadedMemory(buildDomainXml(spec('pc'), 'qemu', { userNetworking: true }), writeMemoryBlob(pair.source, 16 * MIB, 'pc.bin')),
      );
      await src.start('pc');
      const opts = { ...pair.toDestination, postCopy: true, bandwidthMiBps: 1, postCopyBandwidthMiBps: 1, progressIntervalMillis: 500 };
      const phases: string[] = [];
      let withData = 0;
      const migration = src.migrate('pc', {
        ...opts,
        onProgress: (p) => {
          phases.push(p.phase);
          if (p.dataTotalBytes > 0) withData++;
        },
      });
      await eventually(() => withData >= 1, 'a progress report with data');
      // Switch now rather than after the first pass (`--postcopy-after-precopy` would wait ~16 s).
      virsh(pair.source.uri, 'migrate-postcopy', 'berth-pc');
      await eventually(() => phases.at(-1) === 'postcopy', 'the post-copy phase');
      expect(virsh(pair.source.uri, 'domstate', '--reason', 'berth-pc')).toBe('paused (post-copy)');
      expect(virsh(pair.destination.uri, 'domstate', '--reason', 'berth-pc')).toBe('running (post-copy)');
      await expect(src.abortMigration('pc')).rejects.toMatchObject({ kind: 'permanent' });
      // A broken post-copy connection, as libvirt produces it on purpose: both sides stop moving pages.
      virsh(pair.source.uri, 'domjobabort', '--postcopy', 'berth-pc');
      const result = await migration;
      expect(result.outcome).toBe('postcopy-paused');
      expect(virsh(pair.source.uri, 'domstate', '--reason', 'berth-pc')).toBe('paused (post-copy failed)');
      expect(await src.migrationJob('pc')).toMatchObject({ phase: 'postcopy' });
      await src.resumePostCopy('pc', { ...pair.toDestination, postCopy: true });
      expect(virsh(pair.destination.uri, 'domstate', 'berth-pc')).toBe('running');
      expect(virsh(pair.destination.uri, 'dominfo', 'berth-pc')).toMatch(/^Persistent:\s+yes$/m);
      expect(names(pair.source.uri)).not.toContain('berth-pc');
      await dst.undefine('pc');
    } finally {
      writeFileSync(sysctl, before);
    }
  });
});
