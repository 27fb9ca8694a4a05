/**
 * What the executor's migrations (live and cold) share: the data plane to a destination, the
 * completion budget, where the domain runs now, and the domain as it is to be on the destination
 * (built from the destination's claim, never from the source's).
 */
import type { Claim } from '@berth/fit';
import type { DomainSpec, HypervisorDriver, MigrateOptions } from '@berth/hypervisor';
import type { MigrationWork, VmState } from '../domain/vm/state.ts';

/** A VM with a migration under way: running (live) or stopped (cold). */
export type Migrating = Extract<VmState, { status: 'running' | 'stopped' }>;

/** The VM's domain from its recorded request, with `claim` in place of the request's own when given. */
export type SpecOf = (vmId: string, state: Migrating, claim?: Claim) => DomainSpec;

const GiB = 1024 ** 3;

/**
 * The data plane of a migration to `destinationUri`: the destination's own address (the host of a
 * `qemu+tcp://` / `qemu+ssh://` URI), or loopback for a local socket URI. The simulator needs none.
 */
export function dataPlaneOf(destinationUri: string): Pick<MigrateOptions, 'migrateUri' | 'listenAddress'> {
  if (destinationUri.startsWith('sim://') || destinationUri.startsWith('test')) return {};
  let host = '';
  try {
    host = new URL(destinationUri).hostname;
  } catch {
    host = '';
  }
  const address = host === '' || host === 'localhost' ? '127.0.0.1' : host;
  return { migrateUri: `tcp://${address}`, listenAddress: address };
}

/** The completion budget of a migration: per GiB of guest memory (KubeVirt: 150 s/GiB), at least one GiB's worth. */
export const completionBudgetMillis = (w: MigrationWork): number =>
  Math.max(1, Math.ceil(w.plan.memoryBytes / GiB)) * w.plan.completionBudgetSecondsPerGiB * 1000;

/** What of a claim is bound to its host: pinned CPUs (and so NUMA binding), passed-through devices, VFs. */
const hostBound = (c: Claim): boolean => c.pinnedCpus.length > 0 || c.devices.length > 0 || c.vfs.length > 0;

/**
 * The domain as it is to be on the destination: from the destination's claim (recorded with the
 * migration). A migration recorded without it (its DestinationClaimed was written before the claim
 * travelled with it) uses the VM's own request only when nothing in it is bound to the source host;
 * a pinned VM, or one with devices or VFs, is refused with the reason (its attempt fails, the
 * migration service tries again, now with the claim), never defined with the source's CPUs.
 */
export function destinationSpec(specOf: SpecOf, vmId: string, state: Migrating, work: MigrationWork): DomainSpec | { refused: string } {
  if (work.destinationClaim !== undefined) return specOf(vmId, state, work.destinationClaim);
  if (hostBound(state.request.claim)) {
    return {
      refused:
        `the migration came without the destination's claim (DestinationClaimed written before it was carried), and ${vmId} ` +
        `is bound to ${state.location.hostId}'s CPUs or devices: it is not defined on ${work.destination.hostId} with them`,
    };
  }
  return specOf(vmId, state);
}

export type Whereabouts = 'source' | 'destination' | 'paused-both' | 'stopped-on-source' | 'neither' | 'unknown';

/** Where the domain runs now: on the source, the destination, both (paused post-copy) or neither. */
export async function whereRuns(
  driverFor: (uri: string) => HypervisorDriver,
  vmId: string,
  sourceUri: string,
  destinationUri: string,
): Promise<Whereabouts> {
  const look = (uri: string): Promise<string> =>
    driverFor(uri)
      .state(vmId)
      .then(
        (s) => s ?? 'absent',
        () => 'unreachable',
      );
  const [src, dst] = await Promise.all([look(sourceUri), look(destinationUri)]);
  if (src === 'unreachable' || dst === 'unreachable') return 'unknown';
  const up = (s: string): boolean => s === 'running' || s === 'blocked';
  if (up(dst) && !up(src) && src !== 'paused') return 'destination';
  if (up(src) && !up(dst)) return 'source';
  if (src === 'paused' && (dst === 'paused' || up(dst))) return 'paused-both';
  if (src === 'absent' && dst === 'absent') return 'neither';
  // The guest shut down (or crashed) during the copy: nothing runs, the definition is still the source's.
  if ((src === 'shut-off' || src === 'crashed') && dst === 'absent') return 'stopped-on-source';
  return up(src) ? 'source' : 'unknown';
}
