import { Violations } from '@berth/errors';
import type { CpuTopology, MigrationMode, NetworkRef, NumaNode, SriovNic, StoragePool, VmSpec } from './model.ts';

const posInt = (n: number): boolean => Number.isSafeInteger(n) && n > 0;
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const ipv6 = /^[0-9a-f:]+$/i;

/** Pinned (dedicated CPUs, pass-through CPU, NUMA pinning) and high-performance VMs migrate manually only (seed 004). */
export function defaultMigrationMode(spec: Pick<VmSpec, 'cpuPolicy' | 'passthroughCpu' | 'highPerformance' | 'numaNodes'>): MigrationMode {
  const pinned = spec.cpuPolicy === 'dedicated' || spec.passthroughCpu || spec.numaNodes.some((n) => n.pinnedHostNode !== undefined);
  return pinned || spec.highPerformance ? 'manual' : 'manual-and-automatic';
}

/** A VM request before defaults: the optional fields get the rules of resolveVmSpec. */
export type VmSpecInput = Omit<VmSpec, 'vmId' | 'migrationMode' | 'cpuPolicy' | 'slaTier'> & {
  readonly migrationMode?: VmSpec['migrationMode'];
  readonly cpuPolicy?: VmSpec['cpuPolicy'];
  readonly slaTier?: VmSpec['slaTier'];
};

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
  /** tiCrypt static address translation: VMs are reached at address:(basePort + last IP octet). */
  readonly addressTranslation?: { readonly address: string; readonly basePort: number };
}

/**
 * The one VM-spec validator: validates a VM request and applies defaults. Inventory runs it on
 * ComposeVm, the CLI before it sends one, so both refuse the same specs with the same fields.
 * `knownPools` are the storage pool names of the registered hosts (a disk naming any other pool
 * could never be placed); without them (the CLI) pool names are not checked. `field` prefixes
 * every violation (`spec.vcpus`).
 */
export function resolveVmSpec(vmId: string, input: VmSpecInput, knownPools?: ReadonlySet<string>, field = 'spec'): VmSpec {
  const v = new Violations();
  v.check(input.name.trim() !== '', `${field}.name`, 'required');
  v.check(posInt(input.vcpus), `${field}.vcpus`, `must be a positive integer, got ${input.vcpus}`);
  v.check(posInt(input.memoryBytes), `${field}.memoryBytes`, `must be a positive integer, got ${input.memoryBytes}`);
  input.disks.forEach((d, i) => {
    v.check(posInt(d.sizeBytes), `${field}.disks[${i}].sizeBytes`, `must be a positive integer, got ${d.sizeBytes}`);
    if (d.pool !== undefined && knownPools)
      v.check(knownPools.has(d.pool), `${field}.disks[${i}].pool`, `unknown storage pool '${d.pool}'`);
  });
  input.devices.forEach((d, i) => {
    v.check(d.type.trim() !== '', `${field}.devices[${i}].type`, 'required');
    v.check(posInt(d.count), `${field}.devices[${i}].count`, `must be a positive integer, got ${d.count}`);
  });
  input.nics.forEach((n, i) => {
    const vlan = n.network?.vlan;
    if (vlan !== undefined)
      v.check(Number.isInteger(vlan) && vlan >= 0 && vlan <= 4094, `${field}.nics[${i}].network.vlan`, `VLAN must be 0-4094, got ${vlan}`);
    const ip = n.network?.ip;
    if (ip !== undefined)
      v.check(ipv4.test(ip) || (ip.includes(':') && ipv6.test(ip)), `${field}.nics[${i}].ip`, `malformed IP address '${ip}'`);
  });
  if (input.numaNodes.length > 0) {
    input.numaNodes.forEach((n, i) => {
      v.check(posInt(n.vcpus), `${field}.numaNodes[${i}].vcpus`, `must be a positive integer, got ${n.vcpus}`);
      v.check(posInt(n.memoryBytes), `${field}.numaNodes[${i}].memoryBytes`, `must be a positive integer, got ${n.memoryBytes}`);
      if (n.pinnedHostNode !== undefined)
        v.check(
          Number.isSafeInteger(n.pinnedHostNode) && n.pinnedHostNode >= 0,
          `${field}.numaNodes[${i}].pinnedHostNode`,
          'must be a non-negative integer',
        );
    });
    const vcpus = input.numaNodes.reduce((s, n) => s + n.vcpus, 0);
    const memory = input.numaNodes.reduce((s, n) => s + n.memoryBytes, 0);
    v.check(vcpus === input.vcpus, `${field}.numaNodes`, `virtual NUMA nodes hold ${vcpus} vCPUs, the VM has ${input.vcpus}`);
    v.check(memory === input.memoryBytes, `${field}.numaNodes`, `virtual NUMA nodes hold ${memory} bytes, the VM has ${input.memoryBytes}`);
  }
  const hp = input.hugepageSizeBytes;
  if (hp !== undefined) {
    v.check(
      posInt(hp) && hp >= 4096 && Number.isInteger(Math.log2(hp)),
      `${field}.hugepageSizeBytes`,
      `must be a power of two >= 4096, got ${hp}`,
    );
  }
  if (input.topology) {
    const t = input.topology;
    const ok = posInt(t.sockets) && posInt(t.coresPerSocket) && posInt(t.threadsPerCore);
    v.check(
      ok && t.sockets * t.coresPerSocket * t.threadsPerCore === input.vcpus,
      `${field}.topology`,
      `sockets x cores x threads must equal vcpus (${input.vcpus})`,
    );
  }
  v.check(Number.isSafeInteger(input.priority), `${field}.priority`, `must be an integer, got ${input.priority}`);
  input.allowedHosts.forEach((h, i) => v.check(h.trim() !== '', `${field}.allowedHosts[${i}]`, 'empty host id'));
  input.tags.forEach((t, i) => v.check(t.trim() !== '', `${field}.tags[${i}]`, 'empty tag'));
  input.affinity.forEach((r, i) => {
    v.check(r.group.trim() !== '', `${field}.affinity[${i}].group`, 'required');
    v.check(r.target !== 'host' || r.hosts.length > 0, `${field}.affinity[${i}].hosts`, 'a host rule names at least one host');
  });
  v.throwIfAny();
  const cpuPolicy = input.cpuPolicy ?? 'shared';
  const base = { ...input, vmId, cpuPolicy, slaTier: input.slaTier ?? 'silver' };
  return { ...base, migrationMode: input.migrationMode ?? defaultMigrationMode(base) };
}
