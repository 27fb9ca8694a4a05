import type { HardwareProfile } from '@berth/hardware-config';
import type { HostSpecInput, Profiles } from '../domain/host/commands.ts';

export const GiB = 1024 ** 3;

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
