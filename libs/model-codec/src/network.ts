import type { modelV1 as pb } from '@berth/contracts';
import type { NetworkRef } from '@berth/fit';

/** Empty strings are absent on the wire; a VLAN is present only when set (VLAN 0 is a VLAN). */
export const decodeNetwork = (n: pb.NetworkRef): NetworkRef => ({
  ...(n.space ? { space: n.space } : {}),
  ...(n.subnet ? { subnet: n.subnet } : {}),
  ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
});

export const encodeNetwork = (n: NetworkRef): pb.NetworkRef => ({
  space: n.space ?? '',
  subnet: n.subnet ?? '',
  ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
});
