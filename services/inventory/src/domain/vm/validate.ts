import { Violations } from '@berth/errors';
import type { MigrationMode, VmSpec } from '@berth/fit';
import type { VmSpecInput } from './commands.ts';

const posInt = (n: number): boolean => Number.isSafeInteger(n) && n > 0;
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const ipv6 = /^[0-9a-f:]+$/i;

/** Pinned (dedicated CPUs, pass-through CPU, NUMA pinning) and high-performance VMs migrate manually only (seed 004). */
export function defaultMigrationMode(spec: Pick<VmSpec, 'cpuPolicy' | 'passthroughCpu' | 'highPerformance' | 'numaNodes'>): MigrationMode {
  const pinned = spec.cpuPolicy === 'dedicated' || spec.passthroughCpu || spec.numaNodes.some((n) => n.pinnedHostNode !== undefined);
  return pinned || spec.highPerformance ? 'manual' : 'manual-and-automatic';
}

/**
 * Validates a VM request and applies defaults. `knownPools` are the storage pool names of the
 * registered hosts: a disk naming any other pool could never be placed.
 */
export function resolveVmSpec(vmId: string, input: VmSpecInput, knownPools: ReadonlySet<string>): VmSpec {
  const v = new Violations();
  v.check(input.name.trim() !== '', 'spec.name', 'required');
  v.check(posInt(input.vcpus), 'spec.vcpus', `must be a positive integer, got ${input.vcpus}`);
  v.check(posInt(input.memoryBytes), 'spec.memoryBytes', `must be a positive integer, got ${input.memoryBytes}`);
  input.disks.forEach((d, i) => {
    v.check(posInt(d.sizeBytes), `spec.disks[${i}].sizeBytes`, `must be a positive integer, got ${d.sizeBytes}`);
    if (d.pool !== undefined) v.check(knownPools.has(d.pool), `spec.disks[${i}].pool`, `unknown storage pool '${d.pool}'`);
  });
  input.devices.forEach((d, i) => {
    v.check(d.type.trim() !== '', `spec.devices[${i}].type`, 'required');
    v.check(posInt(d.count), `spec.devices[${i}].count`, `must be a positive integer, got ${d.count}`);
  });
  input.nics.forEach((n, i) => {
    const vlan = n.network?.vlan;
    if (vlan !== undefined)
      v.check(Number.isInteger(vlan) && vlan >= 0 && vlan <= 4094, `spec.nics[${i}].network.vlan`, `VLAN must be 0-4094, got ${vlan}`);
    const ip = n.network?.ip;
    if (ip !== undefined)
      v.check(ipv4.test(ip) || (ip.includes(':') && ipv6.test(ip)), `spec.nics[${i}].ip`, `malformed IP address '${ip}'`);
  });
  if (input.numaNodes.length > 0) {
    input.numaNodes.forEach((n, i) => {
      v.check(posInt(n.vcpus), `spec.numaNodes[${i}].vcpus`, `must be a positive integer, got ${n.vcpus}`);
      v.check(posInt(n.memoryBytes), `spec.numaNodes[${i}].memoryBytes`, `must be a positive integer, got ${n.memoryBytes}`);
      if (n.pinnedHostNode !== undefined)
        v.check(
          Number.isSafeInteger(n.pinnedHostNode) && n.pinnedHostNode >= 0,
          `spec.numaNodes[${i}].pinnedHostNode`,
          'must be a non-negative integer',
        );
    });
    const vcpus = input.numaNodes.reduce((s, n) => s + n.vcpus, 0);
    const memory = input.numaNodes.reduce((s, n) => s + n.memoryBytes, 0);
    v.check(vcpus === input.vcpus, 'spec.numaNodes', `virtual NUMA nodes hold ${vcpus} vCPUs, the VM has ${input.vcpus}`);
    v.check(memory === input.memoryBytes, 'spec.numaNodes', `virtual NUMA nodes hold ${memory} bytes, the VM has ${input.memoryBytes}`);
  }
  const hp = input.hugepageSizeBytes;
  if (hp !== undefined) {
    v.check(
      posInt(hp) && hp >= 4096 && Number.isInteger(Math.log2(hp)),
      'spec.hugepageSizeBytes',
      `must be a power of two >= 4096, got ${hp}`,
    );
  }
  if (input.topology) {
    const t = input.topology;
    const ok = posInt(t.sockets) && posInt(t.coresPerSocket) && posInt(t.threadsPerCore);
    v.check(
      ok && t.sockets * t.coresPerSocket * t.threadsPerCore === input.vcpus,
      'spec.topology',
      `sockets x cores x threads must equal vcpus (${input.vcpus})`,
    );
  }
  v.check(Number.isSafeInteger(input.priority), 'spec.priority', `must be an integer, got ${input.priority}`);
  input.allowedHosts.forEach((h, i) => v.check(h.trim() !== '', `spec.allowedHosts[${i}]`, 'empty host id'));
  input.tags.forEach((t, i) => v.check(t.trim() !== '', `spec.tags[${i}]`, 'empty tag'));
  input.affinity.forEach((r, i) => {
    v.check(r.group.trim() !== '', `spec.affinity[${i}].group`, 'required');
    v.check(r.target !== 'host' || r.hosts.length > 0, `spec.affinity[${i}].hosts`, 'a host rule names at least one host');
  });
  v.throwIfAny();
  const cpuPolicy = input.cpuPolicy ?? 'shared';
  const base = { ...input, vmId, cpuPolicy, slaTier: input.slaTier ?? 'silver' };
  return { ...base, migrationMode: input.migrationMode ?? defaultMigrationMode(base) };
}
