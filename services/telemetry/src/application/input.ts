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
 * A guest's sample as the history keeps it, completed once when it arrives (as vdsm's collectors report
 * them with each sample): `vcpu_user_limit` (when the executor sent none) and `balloon_min` from the
 * guest's SLA class at that time (platinum: its allocation, gold: 75% of it, others 0), so a stock policy
 * already respects the floors the clamp enforces anyway. Guests inventory does not know (yet) are silver.
 * The statistics are completed in place, not copied: a sample arrives fresh from `JSON.parse`, is checked
 * without a copy (`statValues`) and belongs to the history from then on (nothing else keeps it). A copy
 * per guest sample was 10,000 objects/s at 1,000 hosts × 50 VMs, a share of the service's GC time.
 */
export function prepareGuestSample(vms: VmDirectory): GuestSamplePrep {
  return (vmId, stats) => {
    // The message's type is read-only for its other readers; the history owns the parsed object.
    const s = stats as Record<string, number>;
    if (s['vcpu_user_limit'] === undefined) s['vcpu_user_limit'] = GUEST_DEFAULTS['vcpu_user_limit']!;
    const max = s['balloon_max'];
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
      const io = h.ioTune.get(vmId);
      return {
        name: vmId,
        uuid: vmId,
        props: { vm_id: vmId, sla_tier: vm?.tier ?? 'silver', priority: vm?.priority ?? 0 },
        // a copy of the list: the history's own list moves on while a decision is being recorded
        history: list.slice(),
        ...(io !== undefined ? { ioTune: io } : {}),
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
