import { applyClaim, fits, type HostSnapshot, type VmSpec } from '@berth/fit';

export interface WhatIfResult {
  readonly total: number;
  /** Hosts that can take at least one more, most first (ties by host id). */
  readonly perHost: readonly { readonly hostId: string; readonly count: number }[];
}

/**
 * How many more VMs of `spec` fit, per host and in total: claims are applied to a copy of each
 * host until the next one no longer fits (hosts are independent, so per-host counts add up).
 */
export function whatIf(spec: VmSpec, hosts: Iterable<HostSnapshot>, limitPerHost = 10_000): WhatIfResult {
  const perHost: { hostId: string; count: number }[] = [];
  let total = 0;
  for (const host of hosts) {
    let copy = host;
    let count = 0;
    while (count < limitPerHost) {
      const r = fits(copy, { ...spec, vmId: `${spec.vmId}#what-if-${count}` });
      if (!r.ok) break;
      copy = applyClaim(copy, r.claim);
      count++;
    }
    if (count > 0) perHost.push({ hostId: host.capacity.hostId, count });
    total += count;
  }
  perHost.sort((a, b) => b.count - a.count || (a.hostId < b.hostId ? -1 : 1));
  return { total, perHost };
}
