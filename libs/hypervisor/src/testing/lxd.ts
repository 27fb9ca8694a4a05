import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certificateFingerprint, type LxdCredentials } from '../lxd/tls.ts';
import { freePort } from './libvirtd.ts';

const run = promisify(execFile);

/**
 * A private LXD daemon for tests (recipe verified on Debian 12, LXD 5.0.2; see DESIGN.md):
 * its own `LXD_DIR` (mode 711), `lxd --group root --logfile …` in a new session, `lxd waitready`,
 * then a preseed with one `dir` pool named `default` and no managed network, HTTPS on 127.0.0.1 at a
 * free port. With `vm: true` it runs in a private mount namespace (`unshare -m`) whose /dev has a
 * `kvm` node, with a no-op `modprobe` first on its PATH: LXD then accepts (and validates)
 * virtual-machine instances, which cannot start on a machine without KVM.
 *
 * `image` is a busybox image made here from Debian's busybox-static: `/sbin/init` is a shell that
 * exits on SIGPWR (LXD's clean-shutdown signal) unless `/stubborn` exists in the container.
 */
export interface TestLxd {
  readonly dir: string;
  /** `lxd+unix://<dir>/unix.socket` */
  readonly socketUri: string;
  /** `https://127.0.0.1:PORT` */
  readonly httpsUri: string;
  /** SHA-256 of the server certificate, for `?fingerprint=`. */
  readonly fingerprint: string;
  /** The image alias of the busybox test image. */
  readonly image: string;
  /** Runs `lxc` against this daemon (the tests' own view, independent of the driver). */
  lxc(...args: string[]): Promise<string>;
  /** GET on the local socket, the metadata of the answer (tests check LXD's view through this). */
  api<T>(path: string): Promise<T>;
  /** A single-use trust token for a client named `name`. */
  trustToken(name: string): Promise<string>;
  /** Trusts a client certificate directly (an already-trusted certificate). */
  trust(certPem: string): Promise<void>;
  /** SIGTERM the daemon (instances keep running) and start it again on the same LXD_DIR. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const LXD_IMAGE_ALIAS = 'berth-busybox';

export function lxdAvailable(): string | undefined {
  for (const bin of ['/usr/bin/lxd', '/usr/bin/lxc', '/bin/busybox', '/usr/bin/unshare', '/usr/bin/openssl'])
    if (!existsSync(bin)) return `${bin} is not installed`;
  if (!existsSync('/usr/share/OVMF')) return 'ovmf is not installed';
  try {
    if (!execFileSync('file', ['-L', '/bin/busybox'], { encoding: 'utf8' }).includes('statically linked'))
      return '/bin/busybox is not busybox-static';
  } catch {
    // `file` missing: busybox-static is checked by the install script
  }
  if (process.getuid?.() !== 0) return 'the LXD harness must run as root (it starts a private LXD daemon)';
  return undefined;
}

/** Guard for LXD suites: skip when LXD cannot run here, unless REQUIRE_INFRA=1, when it throws. */
export function lxdUsable(): boolean {
  const why = lxdAvailable();
  if (why === undefined) return true;
  if (process.env['REQUIRE_INFRA'] === '1') throw new Error(`REQUIRE_INFRA=1 but LXD is unusable: ${why}`);
  console.warn(`skipping LXD tests: ${why}`);
  return false;
}

/** A fresh self-signed client certificate (EC P-384), as `lxc` makes its own. */
export function makeClientCertificate(name = 'berth'): LxdCredentials {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lxd-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:secp384r1',
        '-nodes',
        '-keyout',
        join(dir, 'client.key'),
        '-out',
        join(dir, 'client.crt'),
        '-days',
        '30',
        '-subj',
        `/CN=${name}`,
      ],
      { stdio: 'ignore' },
    );
    return { certPem: readFileSync(join(dir, 'client.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'client.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function buildImage(dir: string): string {
  const root = join(dir, 'image', 'rootfs');
  for (const d of ['bin', 'sbin', 'etc', 'dev', 'proc', 'sys', 'tmp', 'mnt', 'root']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  for (const c of ['sh', 'sleep', 'cat', 'ls', 'touch', 'rm', 'mount', 'free']) symlinkSync('busybox', join(root, 'bin', c));
  writeFileSync(
    join(root, 'sbin', 'init'),
    ['#!/bin/sh', "trap '[ -e /stubborn ] || exit 0' PWR TERM", 'while :; do sleep 3600 & wait; done', ''].join('\n'),
    { mode: 0o755 },
  );
  writeFileSync(
    join(dir, 'image', 'metadata.yaml'),
    [
      'architecture: x86_64',
      `creation_date: ${Math.floor(Date.now() / 1000)}`,
      'properties:',
      '  description: Berth busybox test image',
      '  os: busybox',
      '',
    ].join('\n'),
  );
  const tarball = join(dir, 'busybox.tar.gz');
  execFileSync('tar', ['-C', join(dir, 'image'), '-czf', tarball, 'metadata.yaml', 'rootfs']);
  return tarball;
}

async function exited(child: ChildProcess, millis: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), millis);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export async function startTestLxd(opts: { label?: string; vm?: boolean } = {}): Promise<TestLxd> {
  const dir = mkdtempSync(join(tmpdir(), `berth-lxd-${opts.label ?? 'test'}-`));
  chmodSync(dir, 0o711);
  const env = { ...process.env, LXD_DIR: dir };
  const log = join(dir, 'lxd.log');
  let daemon: ChildProcess;

  const launch = async (): Promise<void> => {
    const out = openSync(join(dir, 'daemon.out'), 'a');
    if (opts.vm) {
      mkdirSync(join(dir, 'bin'), { recursive: true });
      mkdirSync(join(dir, 'devns'), { recursive: true });
      writeFileSync(join(dir, 'bin', 'modprobe'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      const d = join(dir, 'devns');
      const script = [
        'set -e',
        `mount -t tmpfs -o mode=755 tmpfs ${d}`,
        `cp -a /dev/. ${d}/ 2>/dev/null || true`,
        `[ -e ${d}/kvm ] || mknod -m 660 ${d}/kvm c 10 232`,
        `for m in pts shm mqueue hugepages; do if mountpoint -q /dev/$m; then mount --rbind /dev/$m ${d}/$m; fi; done`,
        `mount --move ${d} /dev`,
        `exec lxd --group root --logfile ${log}`,
      ].join('\n');
      daemon = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
        env: { ...env, PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}` },
        detached: true,
        stdio: ['ignore', out, out],
      });
    } else {
      daemon = spawn('lxd', ['--group', 'root', '--logfile', log], { env, detached: true, stdio: ['ignore', out, out] });
    }
    try {
      await run('lxd', ['waitready', '--timeout', '30'], { env });
    } catch (e) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`LXD in ${dir} did not become ready: ${e instanceof Error ? e.message : String(e)}\n${tail}`);
    }
  };

  await launch();
  const port = await freePort();
  const preseed = [
    'config:',
    `  core.https_address: 127.0.0.1:${port}`,
    'storage_pools:',
    '- name: default',
    '  driver: dir',
    'profiles:',
    '- name: default',
    '  devices:',
    '    root:',
    '      path: /',
    '      pool: default',
    '      type: disk',
    '',
  ].join('\n');
  await new Promise<void>((resolve, reject) => {
    const p = execFile('lxd', ['init', '--preseed'], { env }, (err, _out, stderr) =>
      err ? reject(new Error(`lxd init --preseed failed: ${stderr || err.message}`)) : resolve(),
    );
    p.stdin?.end(preseed);
  });
  const lxc = async (...args: string[]): Promise<string> => (await run('lxc', args, { env, maxBuffer: 16 * 1024 * 1024 })).stdout;
  await lxc('image', 'import', buildImage(dir), '--alias', LXD_IMAGE_ALIAS);
  const fingerprint = certificateFingerprint(readFileSync(join(dir, 'server.crt'), 'utf8'));
  const socket = join(dir, 'unix.socket');

  return {
    dir,
    socketUri: `lxd+unix://${socket}`,
    httpsUri: `https://127.0.0.1:${port}`,
    fingerprint,
    image: LXD_IMAGE_ALIAS,
    lxc,
    async api<T>(path: string): Promise<T> {
      const { stdout } = await run('curl', ['-sS', '--unix-socket', socket, `http://lxd${path}`], { maxBuffer: 16 * 1024 * 1024 });
      const env = JSON.parse(stdout) as { type: string; error?: string; metadata: T };
      if (env.type === 'error') throw new Error(`GET ${path}: ${env.error ?? 'error'}`);
      return env.metadata;
    },
    async trustToken(name: string): Promise<string> {
      const out = await lxc('config', 'trust', 'add', '--name', name, '-q');
      return out.trim().split('\n').pop() ?? '';
    },
    async trust(certPem: string): Promise<void> {
      const f = join(dir, `trusted-${Date.now()}.crt`);
      writeFileSync(f, certPem);
      await lxc('config', 'trust', 'add', f);
    },
    async restart(): Promise<void> {
      daemon.kill('SIGTERM');
      if (!(await exited(daemon, 30_000))) {
        daemon.kill('SIGKILL');
        await exited(daemon, 5000);
      }
      await launch();
    },
    async stop(): Promise<void> {
      // `lxd shutdown` stops the instances too; SIGKILL only if it hangs.
      await run('lxd', ['shutdown', '--timeout', '30'], { env }).catch(() => undefined);
      if (!(await exited(daemon, 30_000))) {
        daemon.kill('SIGKILL');
        await exited(daemon, 5000);
      }
      try {
        execFileSync('umount', ['-R', '-l', join(dir, 'storage-pools', 'default')], { stdio: 'ignore' });
      } catch {
        // not mounted
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
