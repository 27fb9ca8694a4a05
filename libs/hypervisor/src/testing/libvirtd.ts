import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { runVirsh, type RunAs } from '../libvirt/virsh.ts';

/**
 * Private libvirt daemons for tests and demos (recipe verified on Debian 12, libvirt 9):
 *
 * - Test driver: `libvirtd -f CONF --listen -p PIDFILE` as root, with LIBVIRT_DRIVER_DIR pointing at an
 *   empty folder so only the built-in test driver loads, and a config putting `unix_sock_dir` under a
 *   temp folder (auth none, TCP on 127.0.0.1 on a free port). Run in the foreground (no `-d`) so the
 *   child is ours to stop; `-p` keeps it off /run/libvirtd.pid, so several can run side by side.
 *   test:///default keeps its state only while a connection is open: we hold `virsh event --all --loop`.
 * - qemu:///session (with a `default-pool` dir pool): `libvirtd` run with runuser as an unprivileged user (default `nobody`) with its
 *   own HOME and XDG_RUNTIME_DIR; root reaches it through `qemu+unix:///session?socket=…`. A distinct
 *   `host_uuid` per daemon makes two of them two hosts (live migration between them works).
 */
export interface TestLibvirtd {
  /** `test+unix:///default?socket=…` */
  readonly uri: string;
  /** `test+tcp://127.0.0.1:PORT/default` */
  readonly tcpUri: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export interface SessionLibvirtd {
  /** `qemu+unix:///session?socket=…`, usable by root (the daemon's user may use it too). */
  readonly uri: string;
  readonly user: string;
  readonly home: string;
  /** For running virsh as the daemon's user, e.g. for `virsh migrate`. */
  readonly runAs: RunAs;
  /** The incoming-migration port range given to this daemon's QEMU (`migration_port_min/max`). */
  readonly migrationPorts: readonly [number, number];
  stop(): Promise<void>;
}

export interface SessionLibvirtdOptions {
  /** The daemon's user (default `nobody`). */
  readonly user?: string;
  /** Incoming-migration ports (default: a free-looking block of 16 between 50000 and 59999). */
  readonly migrationPorts?: readonly [number, number];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(uri: string, child: ChildProcess, log: string, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    try {
      await runVirsh({ uri, timeoutMillis: 5000 }, ['version']);
      return;
    } catch (e) {
      if (child.exitCode !== null || Date.now() > deadline) {
        const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
        throw new Error(`libvirtd for ${uri} did not become ready: ${e instanceof Error ? e.message : String(e)}\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('close', () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

export function libvirtAvailable(): string | undefined {
  for (const bin of ['/usr/sbin/libvirtd', '/usr/bin/virsh']) if (!existsSync(bin)) return `${bin} is not installed`;
  if (process.getuid?.() !== 0) return 'the libvirt harness must run as root (it starts libvirtd with a private config)';
  return undefined;
}

/** Starts a private libvirtd serving the built-in test driver (16 CPUs, 2 NUMA cells, default-pool). */
export async function startTestLibvirtd(label = 'test'): Promise<TestLibvirtd> {
  const dir = mkdtempSync(join(tmpdir(), `berth-libvirt-${label}-`));
  for (const d of ['drivers', 'sock', 'run']) mkdirSync(join(dir, d));
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
  const log = join(dir, 'libvirtd.log');
  const fd = openSync(log, 'a');
  const daemon = spawn('/usr/sbin/libvirtd', ['-f', conf, '--listen', '-p', join(dir, 'run', 'libvirtd.pid')], {
    env: { ...process.env, LIBVIRT_DRIVER_DIR: join(dir, 'drivers'), XDG_RUNTIME_DIR: join(dir, 'run') },
    stdio: ['ignore', fd, fd],
  });
  const uri = `test+unix:///default?socket=${join(dir, 'sock', 'libvirt-sock')}`;
  await waitReady(uri, daemon, log);
  // Holds test:///default's state for the daemon's lifetime.
  const keeper = spawn('virsh', ['-q', '-c', uri, 'event', '--all', '--loop'], { stdio: 'ignore' });
  await waitReady(uri, daemon, log);
  return {
    uri,
    tcpUri: `test+tcp://127.0.0.1:${port}/default`,
    dir,
    async stop() {
      await kill(keeper);
      await kill(daemon);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function userIds(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** A block of 16 ports between 50000 and 59999 that nothing listens on now (libvirt's default range is 49152-49215). */
export async function migrationPortBlock(): Promise<[number, number]> {
  for (let attempt = 0; ; attempt++) {
    const min = 50_000 + 16 * Math.floor(Math.random() * 625);
    const ports = Array.from({ length: 16 }, (_, i) => min + i);
    const free = await Promise.all(ports.map((p) => portFree(p)));
    if (free.every(Boolean) || attempt > 20) return [min, min + 15];
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts a `qemu:///session` libvirtd as an unprivileged user: real QEMU guests under TCG. Each one
 * has its own HOME, runtime dir, `host_uuid` and incoming-migration port range, so two of them are two
 * hosts that live-migrate between each other (see `startMigrationPair`).
 */
export async function startSessionLibvirtd(userOrOptions: string | SessionLibvirtdOptions = {}): Promise<SessionLibvirtd> {
  const o: SessionLibvirtdOptions = typeof userOrOptions === 'string' ? { user: userOrOptions } : userOrOptions;
  const user = o.user ?? 'nobody';
  const migrationPorts = o.migrationPorts ?? (await migrationPortBlock());
  const home = mkdtempSync(join(tmpdir(), 'berth-qemu-session-'));
  const { uid, gid } = userIds(user);
  const run = join(home, 'run');
  const confDir = join(home, '.config', 'libvirt');
  mkdirSync(run);
  mkdirSync(confDir, { recursive: true });
  writeFileSync(join(confDir, 'libvirtd.conf'), `host_uuid = "${randomUUID()}"\n`);
  // `migration_address` is refused by session daemons; the listen address comes with each migration.
  writeFileSync(join(confDir, 'qemu.conf'), `migration_port_min = ${migrationPorts[0]}\nmigration_port_max = ${migrationPorts[1]}\n`);
  for (const p of [home, run, join(home, '.config'), confDir, join(confDir, 'libvirtd.conf'), join(confDir, 'qemu.conf')])
    chownSync(p, uid, gid);
  const env = { HOME: home, XDG_RUNTIME_DIR: run };
  const log = join(home, 'libvirtd.log');
  const fd = openSync(log, 'a');
  const daemon = spawn('runuser', ['-u', user, '--', 'env', `HOME=${home}`, `XDG_RUNTIME_DIR=${run}`, '/usr/sbin/libvirtd'], {
    stdio: ['ignore', fd, fd],
  });
  const uri = `qemu+unix:///session?socket=${join(run, 'libvirt', 'libvirt-sock')}`;
  await waitReady(uri, daemon, log, 30_000);
  // A directory pool like the test driver's, so claimed disks become real (sparse) files.
  const poolDir = join(home, 'pool');
  mkdirSync(poolDir);
  chownSync(poolDir, uid, gid);
  for (const args of [
    ['pool-define-as', 'default-pool', 'dir', '--target', poolDir],
    ['pool-start', 'default-pool'],
  ]) {
    await runVirsh({ uri, timeoutMillis: 15_000 }, args);
  }
  return {
    uri,
    user,
    home,
    runAs: { user, env },
    migrationPorts,
    async stop() {
      // Guests are QEMU processes of the daemon's user: power them off before the daemon goes.
      const names = await runVirsh({ uri, timeoutMillis: 10_000 }, ['list', '--name']).catch(() => '');
      for (const n of names
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean)) {
        await runVirsh({ uri, timeoutMillis: 10_000 }, ['destroy', n]).catch(() => undefined);
      }
      const pidFile = join(run, 'libvirt', 'libvirtd.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await kill(daemon);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Whether `qemu-system-x86_64` runs here (the QEMU guest suites need it besides libvirt). Missing
 * with REQUIRE_INFRA=1 is an error; otherwise the suite is skipped with the reason printed.
 */
export function qemuUsable(): boolean {
  try {
    execFileSync('qemu-system-x86_64', ['--version']);
    return true;
  } catch {
    if (process.env['REQUIRE_INFRA'] === '1') throw new Error('REQUIRE_INFRA=1 but qemu-system-x86_64 is not installed');
    console.warn('skipping the QEMU guest tests: qemu-system-x86_64 is not installed');
    return false;
  }
}

/**
 * Guard for libvirt integration suites, like `infraAvailable` of @berth/testing: false (skip)
 * when libvirt cannot run here, unless REQUIRE_INFRA=1, when it throws naming the reason; false
 * whenever BERTH_SKIP_HYPERVISOR_TESTS=1 (the only way `npm test` skips them).
 */
export function libvirtUsable(): boolean {
  // Asked for by name (`npm test` names it in its closing line): the libvirt and QEMU suites all start here.
  if (process.env['BERTH_SKIP_HYPERVISOR_TESTS'] === '1') {
    console.warn('skipping libvirt tests: BERTH_SKIP_HYPERVISOR_TESTS=1');
    return false;
  }
  const why = libvirtAvailable();
  if (why === undefined) return true;
  if (process.env['REQUIRE_INFRA'] === '1') throw new Error(`REQUIRE_INFRA=1 but libvirt is unusable: ${why}`);
  console.warn(`skipping libvirt tests: ${why}`);
  return false;
}
