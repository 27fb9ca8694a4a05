import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface GuestKernel {
  readonly kernel: string;
  readonly initrd: string;
  /** Serial console on ttyS0; the init prints `berth-guest: virtio_balloon loaded` there once the driver is in. */
  readonly cmdline: string;
}

/**
 * Debian's kernel and a busybox initramfs that loads the virtio balloon driver (scripts/fetch-guest-kernel.sh:
 * fetched once into the Berth cache, world-readable for unprivileged QEMU). For the realm's `guest-boot`.
 */
export function guestKernel(): GuestKernel {
  const script = fileURLToPath(new URL('../../../../scripts/fetch-guest-kernel.sh', import.meta.url));
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = out.trim().split('\n').at(-1)!;
  return { kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.gz`, cmdline: 'console=ttyS0 panic=-1' };
}
