import { randomBytes } from 'node:crypto';
import { chownSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MigrateOptions } from '../driver.ts';
import { migrationPortBlock, startSessionLibvirtd, type SessionLibvirtd } from './libvirtd.ts';

/**
 * Two `qemu:///session` daemons of one unprivileged user (own HOME, runtime dir, `host_uuid` and
 * incoming-migration port range each): two hosts that live-migrate real TCG guests between each
 * other on this machine. Root drives both through their sockets, so `virsh migrate` (not `--p2p`)
 * run by root reaches both ends; the data goes over TCP on 127.0.0.1.
 */
export interface MigrationPair {
  readonly source: SessionLibvirtd;
  readonly destination: SessionLibvirtd;
  /** Connection options for migrating from `source` to `destination` (spread into `MigrateOptions`). */
  readonly toDestination: Pick<MigrateOptions, 'destinationUri' | 'migrateUri' | 'listenAddress'>;
  /** …and back. */
  readonly toSource: Pick<MigrateOptions, 'destinationUri' | 'migrateUri' | 'listenAddress'>;
  stop(): Promise<void>;
}

const over = (d: SessionLibvirtd): Pick<MigrateOptions, 'destinationUri' | 'migrateUri' | 'listenAddress'> => ({
  // No port in the data-plane URI: the destination picks one from its own range.
  destinationUri: d.uri,
  migrateUri: 'tcp://127.0.0.1',
  listenAddress: '127.0.0.1',
});

export async function startMigrationPair(user = 'nobody'): Promise<MigrationPair> {
  const first = await migrationPortBlock();
  let second = await migrationPortBlock();
  while (second[0] === first[0]) second = await migrationPortBlock();
  const [a, b] = await Promise.allSettled([
    startSessionLibvirtd({ user, migrationPorts: first }),
    startSessionLibvirtd({ user, migrationPorts: second }),
  ]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    for (const r of [a, b]) if (r.status === 'fulfilled') await r.value.stop();
    throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
  }
  const source = a.value;
  const destination = b.value;
  return {
    source,
    destination,
    toDestination: over(destination),
    toSource: over(source),
    async stop() {
      await Promise.allSettled([source.stop(), destination.stop()]);
    },
  };
}

/**
 * Writes `bytes` of random data to a file the daemons' user can read (in `session.home`), for
 * `withPreloadedMemory`. An idle guest's memory is nearly all zero pages, which QEMU sends as flags:
 * non-zero data makes a migration last (at `--bandwidth 1`, about one second per MiB).
 */
export function writeMemoryBlob(session: SessionLibvirtd, bytes: number, name = 'guest-ram.bin'): string {
  const file = join(session.home, name);
  writeFileSync(file, randomBytes(bytes), { mode: 0o644 });
  const { uid, gid } = statSync(session.home);
  chownSync(file, uid, gid);
  return file;
}

/**
 * Adds a `-device loader` to a domain XML (libvirt's qemu namespace) so QEMU loads `file` into guest
 * RAM at `address` (default 16 MiB) when it starts. The file must be readable by the QEMU process on
 * both hosts (one user, so the source's HOME works for the destination too).
 */
export function withPreloadedMemory(domainXml: string, file: string, address = 0x1000000): string {
  if (/[,\s'"<>&]/.test(file)) throw new Error(`blob path ${file} must not contain commas, spaces, quotes or markup`);
  const withNs = domainXml.replace(/<domain\b([^>]*)>/, (_m, attrs: string) =>
    attrs.includes('xmlns:qemu') ? `<domain${attrs}>` : `<domain${attrs} xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">`,
  );
  const arg = `loader,file=${file},addr=0x${address.toString(16)},force-raw=on`;
  return withNs.replace(
    /<\/domain>\s*$/,
    `<qemu:commandline><qemu:arg value="-device"/><qemu:arg value="${arg}"/></qemu:commandline></domain>\n`,
  );
}
