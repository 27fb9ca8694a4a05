import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  vmId, title: vmId, vcpus: 1, memoryBytes, pinnedCpus: [], numaCells: [], passthroughCpu: false,
  hostdevs: [], vfs: [], volumes: [], lazyAllocation: true, diskCache: 'default', networks: [],
});

/** virsh as root against one daemon, as an operator would check. */
const virsh = (uri: string, ...args: string[]): string => execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8' }).trim();
const names = (uri: string): string[] => virsh(uri, 'list', '--all', '--name').split('\n').map((s) => s.trim()).filter(Boolean);

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
    // And back, through the destination's driver.
    expect(await dst.migrate('live-a', { ...pair.toSource })).toEqual({ outcome: 'completed' });
    expect(virsh(pair.source.uri, 'domstate', 'berth-live-a')).toBe('running');
    expect(names(pair.destination.uri)).not.toContain('berth-live-a');
    await src.undefine('live-a');
  });

  it('reports progress of a slow migration (1 MiB/s, non-zero guest RAM) and an abort leaves the guest running on the source', async () => {
    // 24 MiB of random data in guest RAM: at 1 MiB/s the migration would take about half a minute.
    const blob = writeMemoryBlob(pair.source, 24 * MIB);
    const dir = mkdtempSync(join(tmpdir(), 'berth-slow-'));
    try {
      const file = join(dir, 'domain.xml');
      writeFileSync(file, withPreloadedMemory(buildDomainXml(spec('slow'), 'qemu', { userNetworking: true }), blob));
      chmodSync(dir, 0o755);
      virsh(pair.source.uri, 'define', file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await src.start('slow');
    const ctl = new AbortController();
    const seen: MigrationProgress[] = [];
    let polled: MigrationProgress | undefined;
    const migration = src.migrate('slow', {
      ...pair.toDestination, bandwidthMiBps: 1, progressIntervalMillis: 500, signal: ctl.signal,
      onProgress: (p) => {
        // The first readings (the destination QEMU starting) have no data yet.
        if (p.dataTotalBytes === 0) return;
        seen.push(p);
        if (seen.length === 3) {
          void src.migrationJob('slow').then((j) => {
            polled = j;
            ctl.abort();
          }, () => ctl.abort());
        }
      },
    });
    const failure = await migration.then(() => undefined, (e: unknown) => e);
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
    await src.undefine('slow');
  });
});
