import type { Claim } from './model.ts';

/** Filters in the order they run (cheapest first); a host is reported under its first failure. */
export const filterOrder = [
  'state',
  'allowed-hosts',
  'resource-pool',
  'cpu-model',
  'affinity',
  'network',
  'vcpus',
  'memory',
  'dedicated-cpus',
  'hugepages',
  'numa',
  'devices',
  'sriov',
  'storage',
] as const;

export type FilterName = (typeof filterOrder)[number];

/** What a quantity is measured in, so explanations can format it (`16 GiB`, `3 vCPUs`). */
export type FitUnit = 'bytes' | 'vcpus' | 'cpus' | 'devices' | 'vfs' | 'pages' | 'nodes';

export interface FitFailure {
  readonly filter: FilterName;
  readonly detail: string;
  /** What the VM needs and the most this host has free, in `unit`. */
  readonly needed?: number;
  readonly available?: number;
  /** needed - available, when both are known. */
  readonly shortBy?: number;
  readonly unit?: FitUnit;
  /** The thing that ran short, e.g. a device type, pool or NUMA node. */
  readonly subject?: string;
}

export type FitResult = { readonly ok: true; readonly claim: Claim } | { readonly ok: false; readonly reasons: readonly FitFailure[] };

export function shortage(
  filter: FilterName,
  unit: FitUnit,
  needed: number,
  available: number,
  detail: string,
  subject?: string,
): FitFailure {
  const base = { filter, detail, needed, available: Math.max(0, available), shortBy: needed - Math.max(0, available), unit };
  return subject === undefined ? base : { ...base, subject };
}
