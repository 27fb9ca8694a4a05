import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './libvirtd.ts';

export interface TestSshd {
  readonly port: number;
  /** The private key root logs in with (its public half is the daemon's only authorised key). */
  readonly keyfile: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export function sshdAvailable(): string | undefined {
  for (const bin of ['/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/ssh-keygen']) if (!existsSync(bin)) return `${bin} is not installed`;
  return undefined;
}

/**
 * A private OpenSSH daemon on 127.0.0.1 (a free port) for tests that reach a host "over SSH" as libvirt's
 * `qemu+ssh://` does: its own host key, root may log in with a generated key only, nothing else of the
 * machine's SSH set-up is used or changed.
 */
export async function startTestSshd(): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sshd-'));
  const port = await freePort();
  const keyfile = join(dir, 'id_ed25519');
  for (const [file, comment] of [
    [join(dir, 'host_key'), 'berth-test-host'],
    [keyfile, 'berth-test-client'],
  ] as const)
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${keyfile}.pub`));
  const conf = join(dir, 'sshd_config');
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      '',
    ].join('\n'),
  );
  // sshd's privilege separation folder (the package's own service creates it at start).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const log = join(dir, 'sshd.log');
  const daemon = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')] });
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (daemon.exitCode !== null || Date.now() > deadline) {
      daemon.kill('SIGKILL');
      throw new Error(`sshd did not start: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    keyfile,
    dir,
    async stop() {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const done = new Promise<void>((r) => daemon.once('close', () => r()));
        daemon.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
