import type { HardwareProfile } from '@berth/hardware-config';
import type { Claim } from '@berth/fit';
import type { HostSpecInput, Profiles } from '../domain/host/commands.ts';
import type { PlacementInput, VmSpecInput } from '../domain/vm/commands.ts';

export const GiB = 1024 ** 3;

/** A valid VM request for tests (2 vCPUs, 4 GiB, nothing else); override what the test is about. */
export function vmSpecInput(over: Partial<VmSpecInput> = {}): VmSpecInput {
  return {
    name: 'web-1',
    vcpus: 2,
    memoryBytes: 4 * GiB,
    disks: [],
    devices: [],
    nics: [],
    numaNodes: [],
    passthroughCpu: false,
    highPerformance: false,
    priority: 0,
    tags: [],
    allowedHosts: [],
    affinity: [],
    ...over,
  };
}

/** The claim of `vmSpecInput()`'s VM (2 vCPUs, 4 GiB, no devices) on `hostId`. */
export function claimOn(hostId: string, vmId = 'vm1'): Claim {
  return {
    vmId,
    hostId,
    vcpus: 2,
    memoryBytes: 4 * GiB,
    pinnedCpus: [],
    numaCells: [],
    hugepages: [],
    devices: [],
    vfs: [],
    volumes: [],
    affinityGroups: [],
  };
}

/** A placement on `hostId` (its claim from claimOn, generation 2, no alternates) as the scheduler reports one. */
export const placementOn = (hostId: string, explanation: unknown = { score: 1 }): PlacementInput => ({
  hostId,
  hypervisorUri: `sim://${hostId}`,
  claim: claimOn(hostId),
  generation: 2,
  explanation,
  alternates: [],
});

/** A valid declared host for tests; override what the test is about. */
export function hostSpec(over: Partial<HostSpecInput> = {}): HostSpecInput {
  return {
    name: 'h1',
    hypervisorUri: 'qemu:///system',
    cpuModel: 'Cascadelake-Server',
    cpus: 8,
    memoryBytes: 32 * GiB,
    numaNodes: [],
    sriovNics: [],
    pciDevices: [],
    storagePools: [],
    networks: [],
    resourcePool: 'default',
    tags: [],
    ...over,
  };
}

export const gpuProfile: HardwareProfile = {
  id: 'nvidia-gpu-node',
  name: 'NVidia GPU Node',
  description: 'Special nodes with NVidia GPUs attached',
  cores: 8,
  memoryBytes: 32 * GiB,
  costFunction: 'nvidia-gpu',
  devices: [
    { type: 'nvidia-gpu', address: '0000:01:02.0' },
    { type: 'nvidia-gpu', address: '0000:02:03.0' },
  ],
};

export const profiles: Profiles = { [gpuProfile.id]: gpuProfile };
