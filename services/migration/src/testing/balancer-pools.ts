import { applyClaim, fits, hostSnapshot, releaseClaim, vmSpec, type HostSnapshot, type MigrationMode } from '@berth/fit';
import type { BalancedVm, BalancerInput, BalancerRun } from '../domain/balancer/model.ts';
import { defaultPolicy, type BalancerPolicy } from '../domain/balancer/policy.ts';

export const GiB = 1024 ** 3;

export interface Pool {
  hosts: HostSnapshot[];
  vms: BalancedVm[];
}

/** A pool of hosts (8 vCPUs, 32 GiB by default) with VMs of `vcpus` placed as listed: [hostIndex, vcpus, mode?]. */
export function pool(hostCount: number, placements: readonly (readonly [number, number, MigrationMode?])[], cpus = 8): Pool {
  const hosts = Array.from({ length: hostCount }, (_, i) => hostSnapshot({ hostId: `h${i}`, cpus, memoryBytes: 32 * GiB }));
  const vms: BalancedVm[] = [];
  placements.forEach(([h, vcpus, mode], i) => {
    const spec = vmSpec({
      vmId: `vm${String(i).padStart(2, '0')}`,
      vcpus,
      memoryBytes: GiB / 4,
      migrationMode: mode ?? 'manual-and-automatic',
    });
    const r = fits(hosts[h]!, spec);
    if (!r.ok) throw new Error(`fixture: vm${i} does not fit on h${h}`);
    hosts[h] = applyClaim(hosts[h]!, r.claim);
    vms.push({ spec, hostId: `h${h}`, running: true, migrating: false });
  });
  return { hosts, vms };
}

export function input(p: Pool, policy: Partial<BalancerPolicy>, over: Partial<BalancerInput> = {}): BalancerInput {
  return {
    policy: { ...defaultPolicy('default'), ...policy },
    now: 1_000_000_000,
    hosts: p.hosts,
    vms: p.vms,
    source: 'allocation',
    history: () => [],
    movesThisInterval: 0,
    ...over,
  };
}

/** The pool as it is once the run's moves are done (the claims moved, the VMs marked as moved now). */
export function afterRun(p: Pool, run: BalancerRun): Pool {
  const hosts = new Map(p.hosts.map((h) => [h.capacity.hostId, h]));
  const vms = new Map(p.vms.map((v) => [v.spec.vmId, v]));
  for (const m of run.moves) {
    hosts.set(m.from, releaseClaim(hosts.get(m.from)!, m.vmId));
    hosts.set(m.to, applyClaim(hosts.get(m.to)!, m.claim));
    vms.set(m.vmId, { ...vms.get(m.vmId)!, hostId: m.to, lastMovedAt: run.at });
  }
  return { hosts: [...hosts.values()], vms: [...vms.values()] };
}
