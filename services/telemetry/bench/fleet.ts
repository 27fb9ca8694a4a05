/** The benchmark's simulated fleet: hosts of 64 CPUs with `vms` guests of 4 GiB each (the simulator's memory model). */
import { SimMemoryModel, SimulatorFleet, type DomainSpec } from '@berth/hypervisor';

const GiB = 1024 ** 3;

export const hostName = (h: number): string => `bh${String(h).padStart(4, '0')}`;

const spec = (vmId: string): DomainSpec => ({
  vmId,
  title: vmId,
  vcpus: 2,
  memoryBytes: 4 * GiB,
  pinnedCpus: [],
  numaCells: [],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [],
  lazyAllocation: true,
  diskCache: 'none',
  networks: [],
});

/** Hosts `from`..`from + count - 1`, each with `vms` running guests. */
export async function fleetOf(
  from: number,
  count: number,
  vms: number,
): Promise<{ fleet: SimulatorFleet; model: SimMemoryModel; uris: Map<string, string> }> {
  const fleet = new SimulatorFleet();
  const model = new SimMemoryModel(fleet);
  const uris = new Map<string, string>();
  for (let h = from; h < from + count; h++) {
    const hostId = hostName(h);
    // vms × 4 GiB on 80% of that: the workload peaks press on the hosts.
    uris.set(hostId, fleet.addHost({ hostId, cpus: 64, memoryBytes: vms * 4 * GiB * 0.8 }));
    const d = fleet.driver(`sim://${hostId}`);
    for (let v = 0; v < vms; v++) {
      const vmId = `${hostId}-v${v}`;
      await d.define(spec(vmId));
      await d.start(vmId);
    }
  }
  return { fleet, model, uris };
}
