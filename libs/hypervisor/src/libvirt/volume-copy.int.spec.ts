import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import { libvirtUsable } from '../testing/libvirtd.ts';
import { startMigrationPair, type MigrationPair } from '../testing/migration-pair.ts';
import { LibvirtDriver } from './libvirt-driver.ts';

const MIB = 1024 ** 2;
/** virsh as root against one daemon, as an operator would check. */
const virsh = (uri: string, ...args: string[]): string => execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8' }).trim();
const volumes = (uri: string, pool: string): string[] =>
  virsh(uri, 'vol-list', pool)
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
const spec = (vmId: string, pool: string): DomainSpec => ({
  vmId,
  title: vmId,
  vcpus: 1,
  memoryBytes: 64 * MIB,
  pinnedCpus: [],
  numaCells: [],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [{ pool, name: `berth-${vmId}-disk0`, sizeBytes: 8 * MIB }],
  lazyAllocation: true,
  diskCache: 'default',
  networks: [],
});

describe.skipIf(!libvirtUsable())('cold moves between two qemu:///session daemons (each its own storage, or a shared pool)', () => {
  let pair: MigrationPair;
  let src: LibvirtDriver;
  let dst: LibvirtDriver;
  let work: string;
  /** Writes `data` at the start of a volume and reads a volume back (virsh vol-upload / vol-download as root). */
  const upload = (uri: string, pool: string, vol: string, data: Buffer): void => {
    const f = join(work, 'up.bin');
    writeFileSync(f, data);
    virsh(uri, 'vol-upload', '--pool', pool, vol, f);
  };
  const download = (uri: string, pool: string, vol: string): Buffer => {
    const f = join(work, 'down.bin');
    virsh(uri, 'vol-download', '--pool', pool, vol, f);
    return readFileSync(f);
  };
  const allocation = (uri: string, pool: string, vol: string): number =>
    Number(/Allocation:\s+(\d+)/.exec(virsh(uri, 'vol-info', '--bytes', '--pool', pool, vol))?.[1]);

  beforeAll(async () => {
    pair = await startMigrationPair();
    src = new LibvirtDriver({ uri: pair.source.uri });
    dst = new LibvirtDriver({ uri: pair.destination.uri });
    work = mkdtempSync(join(tmpdir(), 'berth-volume-copy-test-'));
  });
  afterAll(async () => {
    await src?.close();
    await dst?.close();
    await pair?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("copies a stopped domain's disk to the other host's pool, sparse, byte for byte; the source's undefine then takes its own copy", async () => {
    const s = spec('cold-a', 'default-pool');
    const vol = s.volumes[0]!.name;
    await src.createVolumes(s);
    await src.define(s);
    const data = randomBytes(1 * MIB);
    upload(pair.source.uri, 'default-pool', vol, data);
    // Separate pools (each daemon's HOME): the destination has no such volume.
    expect(volumes(pair.destination.uri, 'default-pool')).not.toContain(vol);

    await src.copyVolumes(s, { destinationUri: pair.destination.uri });
    await dst.define(s);
    await src.undefine('cold-a');

    const copy = download(pair.destination.uri, 'default-pool', vol);
    expect(copy.length).toBe(8 * MIB);
    expect(copy.subarray(0, MIB).equals(data)).toBe(true);
    expect(copy.subarray(MIB).every((b) => b === 0)).toBe(true);
    // The 7 MiB of zeros stayed holes: the copy is sparse.
    expect(allocation(pair.destination.uri, 'default-pool', vol)).toBeLessThan(4 * MIB);
    expect(volumes(pair.source.uri, 'default-pool')).not.toContain(vol);
    expect(virsh(pair.destination.uri, 'domstate', 'berth-cold-a')).toBe('shut off');

    // A copy run again (an executor restarted mid-way) overwrites what the destination has.
    const again = spec('cold-a', 'default-pool');
    await dst.copyVolumes(again, { destinationUri: pair.source.uri });
    expect(download(pair.source.uri, 'default-pool', vol).subarray(0, MIB).equals(data)).toBe(true);
    await src.undefine('cold-a');
    await dst.undefine('cold-a');
    expect(volumes(pair.destination.uri, 'default-pool')).not.toContain(vol);
  });

  it("on a shared pool (one directory, both daemons) the source's undefine keeps the volumes the destination now uses", async () => {
    const shared = join(pair.source.home, 'shared');
    mkdirSync(shared);
    const { uid, gid } = statSync(pair.source.home);
    chownSync(shared, uid, gid);
    chmodSync(shared, 0o755);
    for (const uri of [pair.source.uri, pair.destination.uri]) {
      virsh(uri, 'pool-define-as', 'shared-pool', 'dir', '--target', shared);
      virsh(uri, 'pool-start', 'shared-pool');
    }
    const s = spec('cold-b', 'shared-pool');
    const vol = s.volumes[0]!.name;
    await src.createVolumes(s);
    await src.define(s);
    const data = randomBytes(MIB);
    upload(pair.source.uri, 'shared-pool', vol, data);
    virsh(pair.destination.uri, 'pool-refresh', 'shared-pool');
    expect(volumes(pair.destination.uri, 'shared-pool')).toContain(vol);

    await dst.define(s);
    await src.undefine('cold-b', { keepVolumes: true });
    virsh(pair.destination.uri, 'pool-refresh', 'shared-pool');
    expect(download(pair.destination.uri, 'shared-pool', vol).subarray(0, MIB).equals(data)).toBe(true);
    expect(virsh(pair.destination.uri, 'domstate', 'berth-cold-b')).toBe('shut off');
    // Without keepVolumes (what a cold move did before), the destination's disk would be gone with the source's definition.
    await dst.undefine('cold-b');
    virsh(pair.source.uri, 'pool-refresh', 'shared-pool');
    expect(volumes(pair.source.uri, 'shared-pool')).not.toContain(vol);
  });
});
