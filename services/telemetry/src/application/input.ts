import { slaFloorKib } from '../domain/sla/sla.ts';
import type { SampleHistory } from './history.ts';
import type { MomInput, MomSample, VmDirectory } from './ports.ts';

/**
 * What vdsm hands MOM with every guest besides the hypervisor's statistics: the user CPU limit
 * (GuestCpuTune's `vcpu_user_limit`, a percentage; Berth has no per-VM user limit, so 100).
 */
export const GUEST_DEFAULTS: MomSample = { vcpu_user_limit: 100 };

/**
 * Builds one host's interval input from the sample history. Guests get `balloon_min` from their
 * SLA class (platinum: the allocation, gold: 75% of it, others 0), so a stock policy already
 * respects the floors the clamp enforces anyway; `sla_tier` and `priority` are guest properties.
 * Guests inventory does not know (yet) are silver with priority 0.
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
      const tier = vm?.tier ?? 'silver';
      return {
        name: vmId,
        uuid: vmId,
        props: { vm_id: vmId, sla_tier: tier, priority: vm?.priority ?? 0 },
        history: list.map((s) => ({
          ...GUEST_DEFAULTS,
          ...s,
          ...(s['balloon_max'] !== undefined ? { balloon_min: slaFloorKib(tier, s['balloon_max']) } : {}),
        })),
      };
    });
  return {
    host: [...h.host],
    host_props: { host_id: hostId, ...(opts.resourcePool ? { resource_pool: opts.resourcePool } : {}) },
    guests,
    config: { history_length: opts.historyLength },
  };
}
