import type { Claim, HostSpecInput, HostState } from '@berth/fit';
import type { HardwareProfile } from '@berth/hardware-config';

export type { HostSpecInput } from '@berth/fit';

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
