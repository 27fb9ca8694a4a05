import { REMOTE_HOST_COLLECTORS } from '@berth/mom-policy';
import { slaFloorKib } from '../domain/sla/sla.ts';
import type { GuestSamplePrep, SampleHistory } from './history.ts';
import type { MomInput, MomSample, VmDirectory } from './ports.ts';

/**
 * What vdsm hands MOM with every guest besides the hypervisor's statistics: the user CPU limit
 * (GuestCpuTune's `vcpu_user_limit`, a percentage; Berth has no per-VM user limit, so 100).
 */
export const GUEST_DEFAULTS: MomSample = { vcpu_user_limit: 100 };

/**
 * A guest's sample as the history keeps it, made once when it arrives (as vdsm's collectors report
 * them with each sample): `vcpu_user_limit` and `balloon_min` from the guest's SLA class at that time
 * (platinum: its allocation, gold: 75% of it, others 0), so a stock policy already respects the floors
 * the clamp enforces anyway. Guests inventory does not know (yet) are silver.
 * (Object.assign, not a spread: V8 copies these number-valued records two orders of magnitude slower
 * through a spread, which made this the service's most expensive line at 1,000 hosts.)
 */
export function prepareGuestSample(vms: VmDirectory): GuestSamplePrep {
  return (vmId, stats) => {
    const s: Record<string, number> = Object.assign({}, GUEST_DEFAULTS, stats);
    const max = stats['balloon_max'];
    if (max !== undefined) s['balloon_min'] = slaFloorKib(vms.get(vmId)?.tier ?? 'silver', max);
    return s;
  };
}

/**
 * Builds one host's interval input from the sample history (samples are shared, not copied: they
 * are never changed once in the history). `sla_tier` and `priority` are guest properties, from
 * inventory now; guests it does not know (yet) are silver with priority 0.
 */
export function buildInput(
  history: SampleHistory,
  hostId: string,
  opts: { vms: VmDirectory; resourcePool?: string; historyLength: number },
): MomInput | undefined {
  const h = history.get(hostId);
  if (!h || h.host.length === 0) return undefined;
  const guests = [...h.guests]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([vmId, list]) => {
      const vm = opts.vms.get(vmId);
      return {
        name: vmId,
        uuid: vmId,
        props: { vm_id: vmId, sla_tier: vm?.tier ?? 'silver', priority: vm?.priority ?? 0 },
        // a copy of the list: the history's own list moves on while a decision is being recorded
        history: list.slice(),
      };
    });
  return {
    host: h.host.slice(),
    host_props: { host_id: hostId, ...(opts.resourcePool ? { resource_pool: opts.resourcePool } : {}) },
    guests,
    // A host whose own files cannot be read (libvirt over TCP or TLS) is evaluated with the statistics
    // MOM reads from them optional: README, "Hosts reached over TCP or TLS".
    config:
      h.capabilities.hostFiles === false
        ? { history_length: opts.historyLength, host_collectors: REMOTE_HOST_COLLECTORS }
        : { history_length: opts.historyLength },
  };
}
