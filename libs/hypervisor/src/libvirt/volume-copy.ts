/**
 * A stopped domain's volumes copied between two libvirt hosts that do not share storage:
 * `virsh vol-download --sparse` from the source into a private temporary file on the machine running
 * virsh, `virsh vol-upload --sparse` into a volume of the same pool and name created on the
 * destination. The holes of a lazily allocated disk stay holes (nothing of them crosses the wire).
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainSpec } from '../domain-spec.ts';
import { HypervisorError } from '../errors.ts';
import { runVirsh, type VirshOptions } from './virsh.ts';

/** The slowest copy rate a volume copy waits for before it gives up (its virsh calls' time limit). */
const SLOWEST_BYTES_PER_SECOND = 10 * 1024 ** 2;

/** The uid and gid of `user` (virsh run as another user must own the temporary file). */
function idsOf(user: string): { uid: number; gid: number } {
  const id = (flag: string): number => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

async function ignoringExists(p: Promise<string>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HypervisorError && /already exists|already in use|exists already/i.test(e.message)) return;
    throw e;
  }
}

export async function copyVolumes(
  source: VirshOptions,
  destination: VirshOptions,
  spec: DomainSpec,
  run: (o: VirshOptions, args: string[]) => Promise<string> = runVirsh,
  /** The volumes as they are to be on the destination (its claim's pools), matched by name; absent: the same pools. */
  destinationVolumes?: DomainSpec['volumes'],
): Promise<void> {
  if (spec.volumes.length === 0) return;
  const dir = await mkdtemp(join(tmpdir(), 'berth-volume-copy-'));
  try {
    // Private to the user virsh runs as: the file holds the guest's disk.
    if (source.runAs) {
      const { uid, gid } = idsOf(source.runAs.user);
      await chown(dir, uid, gid);
    }
    await chmod(dir, 0o700);
    for (const vol of spec.volumes) {
      const timeoutMillis = source.timeoutMillis + Math.ceil((vol.sizeBytes / SLOWEST_BYTES_PER_SECOND) * 1000);
      const pool = destinationVolumes?.find((v) => v.name === vol.name)?.pool ?? vol.pool;
      const create = ['vol-create-as', pool, vol.name, `${vol.sizeBytes}b`, '--format', 'raw'];
      if (spec.lazyAllocation) create.push('--allocation', '0');
      await ignoringExists(run(destination, create));
      const file = join(dir, vol.name);
      await run({ ...source, timeoutMillis }, ['vol-download', '--pool', vol.pool, vol.name, file, '--sparse']);
      await run({ ...destination, timeoutMillis }, ['vol-upload', '--pool', pool, vol.name, file, '--sparse']);
      await rm(file, { force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
