import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { runVirsh } from '../libvirt/virsh.ts';
import { freePort } from './libvirtd.ts';

/** Where Debian keeps libvirt's driver modules. */
const DRIVER_DIRS = [
  '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver',
  '/usr/lib64/libvirt/connection-driver',
  '/usr/lib/libvirt/connection-driver',
];

/** The folders a privileged QEMU driver keeps its state, configuration, logs and caches in (compiled in, not configurable). */
const SYSTEM_DIRS = ['/run/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt', '/etc/libvirt'];

export interface SystemLibvirtd {
  /** `qemu+unix:///system?socket=…` */
  readonly uri: string;
  /** `qemu+tcp://127.0.0.1:PORT/system`: the same daemon as a host on the network (no shell on it). */
  readonly tcpUri: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * A private privileged libvirtd (`qemu:///system` with only the QEMU driver), for what libvirt grants
 * a system daemon alone: node memory tuning (KSM's counters and knobs), schedinfo, ... It runs as root in
 * its own mount namespace (`unshare --mount`), where the folders a system daemon's QEMU driver uses
 * (/run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt, /etc/libvirt) are private tmpfs,
 * so it shares no state with the machine's own libvirt (if any) or another test's; its sockets are in a
 * temp folder outside the namespace (unix, and TCP on 127.0.0.1 without auth). QEMU runs as root with no
 * security driver, cgroups or namespaces, its console to files (no virtlogd). What it changes on the
 * host is what a system daemon changes: node-memory-tune writes the kernel's KSM settings.
 */
export interface SystemLibvirtdOptions {
  /**
   * Put guests in cgroups (v1 `cpu`, `cpuacct`, `blkio`, direct cgroupfs, no machined) so `schedinfo` can set
   * vcpu_quota/vcpu_period; off by default (QEMU then runs in the daemon's own cgroup).
   */
  readonly cgroups?: boolean;
  /** Load the storage driver too, with a `default-pool` dir pool in the temp folder (claimed disks become files). */
  readonly storage?: boolean;
}

export async function startSystemLibvirtd(label = 'system', opts: SystemLibvirtdOptions = {}): Promise<SystemLibvirtd> {
  const drivers = DRIVER_DIRS.find((d) => existsSync(join(d, 'libvirt_driver_qemu.so')));
  if (drivers === undefined) throw new Error('libvirt_driver_qemu.so not found (apt-get install libvirt-daemon-driver-qemu)');
  const dir = mkdtempSync(join(tmpdir(), `berth-libvirt-${label}-`));
  for (const d of ['drivers', 'sock', 'etc']) mkdirSync(join(dir, d));
  const port = await freePort();
  const conf = join(dir, 'libvirtd.conf');
  writeFileSync(
    conf,
    [
      `unix_sock_dir = "${join(dir, 'sock')}"`,
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      'listen_tcp = 1',
      'listen_tls = 0',
      'listen_addr = "127.0.0.1"',
      'auth_tcp = "none"',
      `tcp_port = "${port}"`,
      `host_uuid = "${randomUUID()}"`,
      '',
    ].join('\n'),
  );
  const qemuConf = [
    'user = "root"',
    'group = "root"',
    'dynamic_ownership = 0',
    'remember_owner = 0',
    'security_driver = "none"',
    opts.cgroups ? 'cgroup_controllers = [ "cpu", "cpuacct", "blkio" ]' : 'cgroup_controllers = [ ]',
    'namespaces = [ ]',
    'stdio_handler = "file"',
    '',
  ].join('\n');
  // Only the QEMU driver: a symlink folder as LIBVIRT_DRIVER_DIR.
  const script = [
    'set -e',
    ...SYSTEM_DIRS.map((d) => `mkdir -p ${d} && mount -t tmpfs -o mode=0755 tmpfs ${d}`),
    'mkdir -p /etc/libvirt/qemu',
    `printf '%s' '${qemuConf}' > /etc/libvirt/qemu.conf`,
    `ln -s ${join(drivers, 'libvirt_driver_qemu.so')} ${join(dir, 'drivers', 'libvirt_driver_qemu.so')}`,
    ...(opts.storage ? [`ln -s ${join(drivers, 'libvirt_driver_storage.so')} ${join(dir, 'drivers', 'libvirt_driver_storage.so')}`] : []),
    `exec /usr/sbin/libvirtd -f ${conf} --listen -p /run/libvirt/libvirtd.pid`,
  ].join('\n');
  const log = join(dir, 'libvirtd.log');
  const fd = openSync(log, 'a');
  const daemon = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script], {
    env: { ...process.env, LIBVIRT_DRIVER_DIR: join(dir, 'drivers') },
    stdio: ['ignore', fd, fd],
  });
  const uri = `qemu+unix:///system?socket=${join(dir, 'sock', 'libvirt-sock')}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await runVirsh({ uri, timeoutMillis: 5000 }, ['version']);
      break;
    } catch (e) {
      if (daemon.exitCode !== null || Date.now() > deadline) {
        daemon.kill('SIGKILL');
        const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`system libvirtd did not become ready: ${e instanceof Error ? e.message : String(e)}\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (opts.storage) {
    const pool = join(dir, 'pool');
    mkdirSync(pool);
    await runVirsh({ uri, timeoutMillis: 10_000 }, ['pool-define-as', 'default-pool', 'dir', '--target', pool]);
    await runVirsh({ uri, timeoutMillis: 10_000 }, ['pool-start', 'default-pool']);
  }
  return {
    uri,
    tcpUri: `qemu+tcp://127.0.0.1:${port}/system`,
    dir,
    async stop() {
      const names = await runVirsh({ uri, timeoutMillis: 10_000 }, ['list', '--name']).catch(() => '');
      for (const n of names
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean))
        await runVirsh({ uri, timeoutMillis: 10_000 }, ['destroy', n]).catch(() => undefined);
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const done = new Promise<void>((r) => daemon.once('close', () => r()));
        daemon.kill('SIGTERM');
        const t = setTimeout(() => daemon.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(t);
      }
      // the namespace (and its tmpfs) ended with the daemon
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
