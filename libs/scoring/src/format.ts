import type { FitUnit } from '@berth/fit';
import type { FailureExplanation, RemovalGroup } from './explain.ts';

const GiB = 1024 ** 3;

export function formatQuantity(value: number, unit: FitUnit | undefined): string {
  if (unit === 'bytes') {
    const gib = value / GiB;
    return gib >= 1 || value === 0 ? `${+gib.toFixed(gib >= 10 ? 0 : 1)} GiB` : `${Math.round(value / 1024 ** 2)} MiB`;
  }
  return String(value);
}

const stateWords: Record<string, string> = {
  maintenance: 'in maintenance',
  'maintenance-preparing': 'preparing for maintenance',
  disabled: 'disabled',
  'no-scheduling': 'not scheduling',
};

function shortfall(g: RemovalGroup, what: string, free = 'free'): string {
  if (g.needed === undefined) return `lack ${what}`;
  return `lack ${what} (needs ${formatQuantity(g.needed, g.unit)}; the best has ${formatQuantity(g.bestAvailable ?? 0, g.unit)} ${free})`;
}

function phrase(g: RemovalGroup): string {
  switch (g.reason) {
    case 'excluded':
      return 'excluded after earlier attempts';
    case 'state':
      return stateWords[g.subject ?? ''] ?? `in state ${g.subject ?? 'unknown'}`;
    case 'allowed-hosts':
      return 'not among the allowed hosts';
    case 'resource-pool':
      return `outside resource pool ${g.subject ?? ''}`;
    case 'cpu-model':
      return `lack CPU model ${g.subject ?? ''}`;
    case 'affinity':
      return `excluded by hard affinity group ${g.subject ?? ''}`;
    case 'affinity-together':
      return `do not run affinity group ${g.subject ?? ''}`;
    case 'network':
      return `do not reach ${g.subject ?? 'the network'}`;
    case 'vcpus':
      return shortfall(g, 'vCPUs');
    case 'memory':
      return shortfall(g, 'memory');
    case 'dedicated-cpus':
      return shortfall(g, 'dedicated CPUs', 'unpinned');
    case 'hugepages':
      return shortfall(g, 'hugepages');
    case 'numa':
      if (g.unit === 'nodes')
        return `have too few NUMA nodes for its guest cells (needs ${g.needed ?? '?'} distinct; the best has ${g.bestAvailable ?? 0})`;
      return g.needed === undefined
        ? 'have no NUMA node that fits'
        : `have no NUMA node that fits (a cell needs ${formatQuantity(g.needed, g.unit)}${g.unit === 'cpus' ? ' CPUs' : ''}; the best node has ${formatQuantity(g.bestAvailable ?? 0, g.unit)})`;
    case 'devices':
      return (g.bestAvailable ?? 0) === 0 ? `have no free ${g.subject ?? 'device'}` : shortfall(g, `free ${g.subject ?? 'devices'}`);
    case 'sriov':
      return `have no free SR-IOV VF on ${g.subject ?? 'the network'}`;
    case 'storage':
      return g.needed === undefined ? `have no storage pool ${g.subject ?? ''}` : shortfall(g, `space in pool ${g.subject ?? ''}`);
    case 'cost':
      return `cost infinity under cost function ${g.subject ?? ''}${g.detail === undefined ? '' : ` (${g.detail})`}`;
  }
}

/** "0/120 hosts can take vm-7: 80 lack memory (needs 16 GiB; the best has 12 GiB free), 30 in maintenance, ..." */
export function formatExplanation(e: FailureExplanation): string {
  const head = `${e.eligibleHosts}/${e.totalHosts} hosts can take ${e.vmName}`;
  if (e.groups.length === 0) return `${head}: there are no hosts`;
  return `${head}: ${e.groups.map((g) => `${g.hosts} ${phrase(g)}`).join(', ')}`;
}
