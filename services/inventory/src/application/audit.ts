import { allocatableVcpus, ordinaryMemoryCapacity, type HostSnapshot } from '@berth/fit';
import type { StoredEvent } from '@berth/event-store';
import { hostSnapshotOf, initialHost, type Host } from '../domain/host/state.ts';
import { evolveHostStored } from './streams.ts';

const add = <K>(m: Map<K, number>, k: K, n: number): void => void m.set(k, (m.get(k) ?? 0) + n);

/**
 * Everything a host has given out beyond its capacity, counted from the claims themselves (not
 * through the fit rules, so the audit does not share their possible mistakes).
 */
export function overbooking(snap: HostSnapshot): string[] {
  const c = snap.capacity;
  const out: string[] = [];
  let vcpus = 0;
  let memory = 0;
  const cpus = new Map<number, number>();
  const devices = new Map<string, number>();
  const vfs = new Map<string, number>();
  const pools = new Map<string, number>();
  const pages = new Map<string, number>();
  for (const cl of snap.claims) {
    vcpus += cl.vcpus;
    if (cl.hugepages.length === 0) memory += cl.memoryBytes;
    cl.pinnedCpus.forEach((x) => add(cpus, x, 1));
    cl.devices.forEach((d) => add(devices, d.address, 1));
    cl.vfs.forEach((v) => add(vfs, v.nic, v.count));
    cl.volumes.forEach((v) => add(pools, v.pool, v.sizeBytes));
    cl.hugepages.forEach((h) => add(pages, `${h.numaNode}/${h.pageSizeBytes}`, h.count));
  }
  if (vcpus > allocatableVcpus(c.cpus, c.cpuOvercommit)) out.push(`vcpus ${vcpus} > ${allocatableVcpus(c.cpus, c.cpuOvercommit)}`);
  if (memory > ordinaryMemoryCapacity(c)) out.push(`memory ${memory} > ${ordinaryMemoryCapacity(c)}`);
  for (const [cpu, n] of cpus) if (n > 1) out.push(`cpu ${cpu} pinned ${n} times`);
  for (const [a, n] of devices) if (n > 1) out.push(`device ${a} given ${n} times`);
  for (const [nic, n] of vfs) {
    const total = c.sriovNics.find((x) => x.name === nic)?.vfsTotal ?? 0;
    if (n > total) out.push(`nic ${nic}: ${n} VFs > ${total}`);
  }
  for (const [pool, n] of pools) {
    const p = c.storagePools.find((x) => x.name === pool);
    if (!p || n > p.totalBytes - p.externalUsedBytes) out.push(`pool ${pool}: ${n} bytes over capacity`);
  }
  for (const [key, n] of pages) {
    const [node, size] = key.split('/').map(Number);
    const total = c.numaNodes.find((x) => x.id === node)?.hugepages.find((h) => h.pageSizeBytes === size)?.total ?? 0;
    if (n > total) out.push(`node ${node}: ${n} hugepages of ${size} > ${total}`);
  }
  return out;
}

/** Replays a host stream and audits the host after every event: at no prefix of the log may it be overbooked. */
export function auditHostStream(events: readonly StoredEvent[]): { position: number; problems: string[] }[] {
  const found: { position: number; problems: string[] }[] = [];
  let host: Host = initialHost();
  for (const e of events) {
    host = evolveHostStored(host, e);
    if (host.status !== 'active') continue;
    const problems = overbooking(hostSnapshotOf(host));
    if (problems.length > 0) found.push({ position: e.streamPosition, problems });
  }
  return found;
}
