import { fits, hostSnapshot, vmSpec, type HostSnapshot, type VmSpec } from '@berth/fit';
import type { Evacuee, EvacueeStatus } from '../domain/evacuation/model.ts';

export const GiB = 1024 ** 3;

/** Two NUMA nodes of 8 CPUs and 32 GiB each (so pinned and dedicated VMs fit). */
export function numaHost(hostId: string, over: Partial<HostSnapshot['capacity']> = {}): HostSnapshot {
  return hostSnapshot({
    hostId,
    cpus: 16,
    memoryBytes: 64 * GiB,
    topology: { sockets: 2, coresPerSocket: 8, threadsPerCore: 1 },
    numaNodes: [
      { id: 0, cpus: [0, 1, 2, 3, 4, 5, 6, 7], memoryBytes: 32 * GiB, hugepages: [] },
      { id: 1, cpus: [8, 9, 10, 11, 12, 13, 14, 15], memoryBytes: 32 * GiB, hugepages: [] },
    ],
    ...over,
  });
}

/** Puts `spec` on `host` with the claim the fit rules give, as inventory would. */
export function placeOn(host: HostSnapshot, spec: VmSpec, status: EvacueeStatus = 'running'): { host: HostSnapshot; vm: Evacuee } {
  const r = fits({ ...host, capacity: { ...host.capacity, state: 'enabled' } }, spec);
  if (!r.ok) throw new Error(`fixture: ${spec.vmId} does not fit on ${host.capacity.hostId}: ${r.reasons.map((x) => x.detail).join('; ')}`);
  return { host: { ...host, generation: host.generation + 1, claims: [...host.claims, r.claim] }, vm: { spec, claim: r.claim, status } };
}

export { vmSpec };
