import type { HostCapacity, HostSnapshot, VmSpec } from './model.ts';

/**
 * Defaults for tests, benchmarks and examples: a plain enabled host and a plain shared VM.
 * Override any field; nothing here is used by the fit rules themselves.
 */
export function hostCapacity(over: Partial<HostCapacity> & Pick<HostCapacity, 'hostId'>): HostCapacity {
  const cpus = over.cpus ?? 8;
  return {
    name: over.hostId,
    state: 'enabled',
    resourcePool: 'default',
    tags: [],
    cpuModel: 'Cascadelake-Server',
    topology: { sockets: 1, coresPerSocket: cpus, threadsPerCore: 1 },
    cpus,
    memoryBytes: 32 * 1024 ** 3,
    cpuOvercommit: 1,
    memoryOvercommit: 1,
    numaNodes: [],
    sriovNics: [],
    pciDevices: [],
    storagePools: [],
    networks: [],
    ...over,
  };
}

export function hostSnapshot(over: Partial<HostCapacity> & Pick<HostCapacity, 'hostId'>, generation = 1): HostSnapshot {
  return { capacity: hostCapacity(over), generation, claims: [] };
}

export function vmSpec(over: Partial<VmSpec> & Pick<VmSpec, 'vmId'>): VmSpec {
  return {
    name: over.vmId,
    vcpus: 1,
    memoryBytes: 1024 ** 3,
    disks: [],
    devices: [],
    nics: [],
    numaNodes: [],
    cpuPolicy: 'shared',
    passthroughCpu: false,
    highPerformance: false,
    slaTier: 'silver',
    priority: 0,
    tags: [],
    allowedHosts: [],
    affinity: [],
    migrationMode: 'manual-and-automatic',
    ...over,
  };
}
