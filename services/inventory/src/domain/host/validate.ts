import { Violations } from '@berth/errors';
import { readCanonicalPciAddress } from '@berth/config/units';
import { type HostCapacity, type HostState, type PciDevice, type StoragePool } from '@berth/fit';
import type { inventoryEvents } from '@berth/contracts';
import type { HostSpecInput, Profiles } from './commands.ts';
import { hypervisorUriProblem } from './hypervisor-uri.ts';

const isInt = (n: number): boolean => Number.isSafeInteger(n);
const nonNegInt = (n: number): boolean => isInt(n) && n >= 0;
const posInt = (n: number): boolean => isInt(n) && n > 0;
const isPow2 = (n: number): boolean => posInt(n) && Number.isInteger(Math.log2(n));

function overcommit(v: Violations, field: string, value: number | undefined): number {
  if (value === undefined) return 1;
  v.check(Number.isFinite(value) && value >= 0 && value <= 10, field, `must be between 0 and 10, got ${value}`);
  return value;
}

function pciDevices(v: Violations, spec: HostSpecInput, profileDevices: readonly PciDevice[]): PciDevice[] {
  const out: PciDevice[] = [...profileDevices];
  spec.pciDevices.forEach((d, i) => {
    const field = `spec.pciDevices[${i}]`;
    v.check(d.type.trim() !== '', `${field}.type`, 'required');
    const canonical = readCanonicalPciAddress(d.address);
    if (!canonical.ok) {
      v.add(`${field}.address`, canonical.reason);
      return;
    }
    const address = canonical.value;
    out.push(d.numaNode === undefined ? { type: d.type, address } : { type: d.type, address, numaNode: d.numaNode });
  });
  const seen = new Set<string>();
  for (const d of out) {
    if (seen.has(d.address)) v.add('spec.pciDevices', `PCI address ${d.address} listed twice (host or profile)`);
    seen.add(d.address);
  }
  return out;
}

function storagePools(v: Violations, pools: readonly StoragePool[]): StoragePool[] {
  const names = new Set<string>();
  pools.forEach((p, i) => {
    const f = `spec.storagePools[${i}]`;
    v.check(p.name.trim() !== '', `${f}.name`, 'required');
    v.check(!names.has(p.name), `${f}.name`, `duplicate pool name '${p.name}'`);
    names.add(p.name);
    v.check(nonNegInt(p.totalBytes), `${f}.totalBytes`, `must be a non-negative integer, got ${p.totalBytes}`);
    v.check(nonNegInt(p.externalUsedBytes), `${f}.externalUsedBytes`, `must be a non-negative integer, got ${p.externalUsedBytes}`);
    v.check(p.externalUsedBytes <= p.totalBytes, `${f}.externalUsedBytes`, 'exceeds totalBytes');
  });
  const defaults = pools.filter((p) => p.isDefault).length;
  v.check(defaults <= 1, 'spec.storagePools', `at most one default pool, got ${defaults}`);
  // Without an explicit default, the first pool is the default (MAAS shows one per host).
  return pools.map((p, i) => ({ ...p, isDefault: defaults === 0 ? i === 0 : p.isDefault }));
}

function numa(v: Violations, spec: HostSpecInput, cpus: number, memoryBytes: number): void {
  const ids = new Set<number>();
  const cpuIds = new Set<number>();
  let memory = 0;
  spec.numaNodes.forEach((n, i) => {
    const f = `spec.numaNodes[${i}]`;
    v.check(nonNegInt(n.id) && !ids.has(n.id), `${f}.id`, `must be a unique non-negative integer, got ${n.id}`);
    ids.add(n.id);
    for (const c of n.cpus) {
      v.check(nonNegInt(c) && c < cpus && !cpuIds.has(c), `${f}.cpus`, `CPU ${c} must be unique and below ${cpus}`);
      cpuIds.add(c);
    }
    v.check(nonNegInt(n.memoryBytes), `${f}.memoryBytes`, `must be a non-negative integer, got ${n.memoryBytes}`);
    memory += n.memoryBytes;
    let hugepageBytes = 0;
    n.hugepages.forEach((h, j) => {
      v.check(
        isPow2(h.pageSizeBytes) && h.pageSizeBytes >= 4096,
        `${f}.hugepages[${j}].pageSizeBytes`,
        `must be a power of two >= 4096, got ${h.pageSizeBytes}`,
      );
      v.check(nonNegInt(h.total), `${f}.hugepages[${j}].total`, `must be a non-negative integer, got ${h.total}`);
      hugepageBytes += h.pageSizeBytes * h.total;
    });
    v.check(hugepageBytes <= n.memoryBytes, `${f}.hugepages`, `hugepages (${hugepageBytes} bytes) exceed the node's memory`);
  });
  v.check(memory <= memoryBytes, 'spec.numaNodes', `NUMA nodes hold ${memory} bytes, more than the host's ${memoryBytes}`);
  spec.sriovNics.forEach((n, i) => {
    const f = `spec.sriovNics[${i}]`;
    v.check(n.name.trim() !== '', `${f}.name`, 'required');
    v.check(nonNegInt(n.vfsTotal), `${f}.vfsTotal`, `must be a non-negative integer, got ${n.vfsTotal}`);
    v.check(ids.size === 0 || ids.has(n.numaNode), `${f}.numaNode`, `no NUMA node ${n.numaNode}`);
  });
}

/**
 * Validates a declared host and resolves it against its hardware profile: the effective record
 * stored in HostRegistered/HostUpdated. Throws one ValidationError naming every bad field.
 */
export function resolveHostRecord(hostId: string, spec: HostSpecInput, state: HostState, profiles: Profiles): inventoryEvents.HostRecord {
  const v = new Violations();
  v.check(spec.name.trim() !== '', 'spec.name', 'required');
  const uriProblem = hypervisorUriProblem(spec.hypervisorUri);
  if (uriProblem) v.add('spec.hypervisorUri', uriProblem);
  const profileId = spec.profileId?.trim() ? spec.profileId : undefined;
  const profile = profileId === undefined ? undefined : profiles[profileId];
  if (profileId !== undefined && !profile) v.add('spec.profileId', `unknown hardware profile '${profileId}'`);
  const cpuOvercommit = overcommit(v, 'spec.cpuOvercommit', spec.cpuOvercommit);
  const memoryOvercommit = overcommit(v, 'spec.memoryOvercommit', spec.memoryOvercommit);
  const cpus = spec.cpus ?? profile?.cores ?? 0;
  const memoryBytes = spec.memoryBytes ?? profile?.memoryBytes ?? 0;
  v.check(posInt(cpus), 'spec.cpus', `must be a positive integer (or come from the profile), got ${cpus}`);
  v.check(
    nonNegInt(memoryBytes) && memoryBytes > 0,
    'spec.memoryBytes',
    `must be a positive integer (or come from the profile), got ${memoryBytes}`,
  );
  const topology = spec.topology ?? { sockets: 1, coresPerSocket: cpus, threadsPerCore: 1 };
  for (const k of ['sockets', 'coresPerSocket', 'threadsPerCore'] as const) {
    v.check(posInt(topology[k]), `spec.topology.${k}`, `must be a positive integer, got ${topology[k]}`);
  }
  numa(v, spec, cpus, memoryBytes);
  const devices = pciDevices(v, spec, profile?.devices ?? []);
  const pools = storagePools(v, spec.storagePools);
  [...spec.networks, ...spec.sriovNics.flatMap((n) => n.networks)].forEach((n) => {
    if (n.vlan !== undefined)
      v.check(isInt(n.vlan) && n.vlan >= 0 && n.vlan <= 4094, 'spec.networks.vlan', `VLAN must be 0-4094, got ${n.vlan}`);
  });
  const at = spec.addressTranslation;
  if (at) {
    v.check(
      /^[0-9a-f.:]+$/i.test(at.address) || /^[a-z0-9.-]+$/i.test(at.address),
      'spec.addressTranslation.address',
      `malformed address '${at.address}'`,
    );
    v.check(
      isInt(at.basePort) && at.basePort >= 1 && at.basePort + 255 <= 65535,
      'spec.addressTranslation.basePort',
      `base port + 255 must fit 1-65535, got ${at.basePort}`,
    );
  }
  v.throwIfAny();
  const capacity: HostCapacity = {
    hostId,
    name: spec.name,
    state,
    resourcePool: spec.resourcePool.trim() || 'default',
    tags: [...spec.tags],
    cpuModel: spec.cpuModel,
    topology,
    cpus,
    memoryBytes,
    cpuOvercommit,
    memoryOvercommit,
    numaNodes: spec.numaNodes,
    sriovNics: spec.sriovNics,
    pciDevices: devices,
    storagePools: pools,
    networks: spec.networks,
    ...(profileId === undefined ? {} : { profileId }),
  };
  return { capacity, hypervisorUri: spec.hypervisorUri, ...(at ? { addressTranslation: at } : {}) };
}
