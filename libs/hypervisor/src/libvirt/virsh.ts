import { spawn } from 'node:child_process';
import pLimit, { type LimitFunction } from 'p-limit';
import { HypervisorError, type HypervisorErrorKind } from '../errors.ts';

/** Run virsh as another user (qemu:///session daemons belong to an unprivileged user). */
export interface RunAs {
  readonly user: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface VirshOptions {
  readonly uri: string;
  readonly timeoutMillis: number;
  readonly runAs?: RunAs;
  readonly virshPath?: string;
}

const NOT_FOUND = /domain not found|failed to get domain|no domain with matching|storage vol(ume)? not found|no storage vol with matching/i;
const TRANSIENT =
  /failed to connect|connection refused|connection reset|timed out|cannot recv data|end of file while reading|broken pipe|resource temporarily unavailable|cannot acquire state change lock|unable to connect|no route to host|cannot write data/i;

export function classifyVirshError(stderr: string): HypervisorErrorKind {
  if (NOT_FOUND.test(stderr)) return 'not-found';
  if (TRANSIENT.test(stderr)) return 'transient';
  return 'permanent';
}

/** The program and arguments that run virsh, directly or through runuser (never a shell). */
export function virshCommand(opts: VirshOptions, args: readonly string[]): [string, string[]] {
  const virsh = opts.virshPath ?? 'virsh';
  const base = ['-q', '-c', opts.uri, ...args];
  if (!opts.runAs) return [virsh, base];
  const env = Object.entries(opts.runAs.env).map(([k, v]) => `${k}=${v}`);
  return ['runuser', ['-u', opts.runAs.user, '--', 'env', ...env, virsh, ...base]];
}

/** Runs one virsh command; resolves stdout, rejects with a classified HypervisorError. */
export function runVirsh(opts: VirshOptions, args: readonly string[], input?: string): Promise<string> {
  const [cmd, argv] = virshCommand(opts, args);
  const operation = `virsh ${args[0] ?? ''}`;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMillis);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new HypervisorError('permanent', operation, opts.uri, `cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (timedOut) return reject(new HypervisorError('transient', operation, opts.uri, `timed out after ${opts.timeoutMillis} ms`));
      if (code !== 0) return reject(new HypervisorError(classifyVirshError(stderr), operation, opts.uri, stderr || `exit code ${code}`));
      resolve(Buffer.concat(out).toString('utf8'));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** A counting semaphore: bounds concurrent virsh processes per host on small machines. */

/**
 * Bounds the virsh processes run against one host at a time. p-limit queues every caller, including
 * one that arrives between a release and the waiter it wakes, so the bound holds exactly (the
 * hand-rolled limiter this replaces let such a caller slip in; virsh-limit.unit.spec.ts shows it).
 */
export function virshLimiter(max: number): LimitFunction {
  return pLimit(max);
}
