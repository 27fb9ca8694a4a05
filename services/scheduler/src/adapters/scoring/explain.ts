import { filterOrder, type Claim, type FilterName, type FitFailure, type HostSnapshot } from '@berth/fit';

const GiB = 1024 ** 3;
const fmt = (n: number, unit: FitFailure['unit']): string =>
  unit === 'bytes' ? `${Math.round((n / GiB) * 100) / 100} GiB` : `${n} ${unit ?? ''}`.trim();

const phrase: Record<FilterName, string> = {
  state: 'are not enabled',
  'allowed-hosts': 'are not allowed',
  'resource-pool': 'are in another resource pool',
  'cpu-model': 'lack a compatible CPU model',
  affinity: 'break an affinity rule',
  network: 'cannot reach a network',
  vcpus: 'lack vCPUs',
  memory: 'lack memory',
  'dedicated-cpus': 'lack dedicated CPUs',
  hugepages: 'lack hugepages',
  numa: 'cannot fit the NUMA layout',
  devices: 'lack devices',
  sriov: 'lack SR-IOV VFs',
  storage: 'lack storage',
};

/**
 * "0/120 hosts can take vm-7: 80 lack memory (needs 16 GiB; the best has 12 GiB free), ..." —
 * per filter, how many hosts it removed, with the closest miss among them.
 */
export function summarizeFailures(
  vmName: string,
  total: number,
  excluded: number,
  misses: ReadonlyMap<FilterName, readonly FitFailure[]>,
): { summary: string; detail: unknown } {
  const parts: string[] = [];
  const detail: { filter: string; hosts: number; needed?: number; bestAvailable?: number; unit?: string; closest: string }[] = [];
  for (const filter of filterOrder) {
    const list = misses.get(filter);
    if (list === undefined || list.length === 0) continue;
    const best = list.reduce((a, b) => ((b.shortBy ?? Infinity) < (a.shortBy ?? Infinity) ? b : a));
    const numbers =
      best.needed !== undefined && best.available !== undefined
        ? ` (needs ${fmt(best.needed, best.unit)}${best.subject ? ` ${best.subject}` : ''}; the best has ${fmt(best.available, best.unit)} free)`
        : ` (${best.detail})`;
    parts.push(`${list.length} ${phrase[filter]}${numbers}`);
    detail.push({ filter, hosts: list.length, needed: best.needed, bestAvailable: best.available, unit: best.unit, closest: best.detail });
  }
  if (excluded > 0) parts.push(`${excluded} excluded by the request`);
  return { summary: `0/${total} hosts can take ${vmName}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`, detail };
}

export function applyClaimToSnapshot(host: HostSnapshot, claim: Claim): HostSnapshot {
  return { ...host, claims: [...host.claims, claim] };
}
