import type { Claim, CpuTopology, HostState, NetworkRef, NumaNode, SriovNic, StoragePool } from '@berth/fit';
import type { HardwareProfile } from '@berth/hardware-config';
import type { inventoryEvents } from '@berth/contracts';

/** What an operator declares about a host, before validation and profile defaults. */
export interface HostSpecInput {
  readonly name: string;
  readonly hypervisorUri: string;
  readonly profileId?: string;
  readonly cpuOvercommit?: number;
  readonly memoryOvercommit?: number;
  readonly cpuModel: string;
  readonly topology?: CpuTopology;
  readonly cpus?: number;
  readonly memoryBytes?: number;
  readonly numaNodes: readonly NumaNode[];
  readonly sriovNics: readonly SriovNic[];
  readonly pciDevices: readonly { readonly type: string; readonly address: string; readonly numaNode?: number }[];
  /** `isDefault` may be left false everywhere: the first pool becomes the default. */
  readonly storagePools: readonly StoragePool[];
  readonly networks: readonly NetworkRef[];
  readonly resourcePool: string;
  readonly tags: readonly string[];
  readonly addressTranslation?: inventoryEvents.AddressTranslation;
}

/** Hardware profiles by id, as the last applied config has them. */
export type Profiles = Readonly<Record<string, HardwareProfile>>;

export type HostCommand =
  | {
      readonly type: 'RegisterHost';
      readonly hostId: string;
      readonly spec: HostSpecInput;
      readonly initialState: HostState;
      readonly profiles: Profiles;
    }
  | {
      readonly type: 'UpdateHost';
      readonly spec: HostSpecInput;
      readonly profiles: Profiles;
      readonly expectedGeneration?: number;
    }
  | { readonly type: 'RemoveHost'; readonly reason: string }
  | { readonly type: 'SetHostState'; readonly to: HostState; readonly reason: string }
  | { readonly type: 'ClaimResources'; readonly claim: Claim; readonly expectedGeneration: number }
  | { readonly type: 'ReleaseClaim'; readonly vmId: string; readonly reason: string };
