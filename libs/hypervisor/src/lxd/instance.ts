/**
 * Pure mapping from Berth's DomainSpec to an LXD instance: its name, config, devices and custom
 * volumes. No I/O here: everything is unit-tested. LXD's answers map back to the driver's types in
 * instance-state.ts (state, memory), host-facts.ts (resources) and events.ts (lifecycle events).
 */
import { createHash } from 'node:crypto';
import type { DomainSpec } from '../domain-spec.ts';
import { assertVmId, domainName, DOMAIN_PREFIX } from '../naming.ts';
import type { LxdInstanceType } from './uri.ts';

/** The instance config key that records the VM id (names may be shortened, the key never is). */
export const VM_ID_KEY = 'user.berth.vm-id';

const LXD_NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * The LXD instance name of a VM: `berth-<vmId>` when that is a valid LXD name (letters, digits and
 * '-', at most 63, no trailing '-'), else `berth-<cleaned prefix>-<10 hex of the id's SHA-1>`. A
 * function of the VM id alone, so a retry addresses the same instance and never creates a second.
 */
export function lxdInstanceName(vmId: string): string {
  const plain = domainName(vmId);
  if (LXD_NAME.test(plain)) return plain;
  const hash = createHash('sha1').update(vmId).digest('hex').slice(0, 10);
  const cleaned = vmId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  const room = 63 - DOMAIN_PREFIX.length - 1 - hash.length;
  const head = cleaned.slice(0, room).replace(/-$/, '');
  return head === '' ? `${DOMAIN_PREFIX}${hash}` : `${DOMAIN_PREFIX}${head}-${hash}`;
}

/** The REST path of a VM's instance (`suffix`: `/state`, ...). */
export const lxdInstancePath = (vmId: string, suffix = ''): string =>
  `/1.0/instances/${encodeURIComponent(lxdInstanceName(vmId))}${suffix}`;

/** Name of the custom volume holding data disk `i` (i >= 1; disk 0 is the instance's root volume). */
export const lxdVolumeName = (vmId: string, diskIndex: number): string => `${lxdInstanceName(vmId)}-disk${diskIndex}`;

/**
 * `limits.cpu` for the claim: a pinned set when cores are claimed, else a count. LXD reads a bare
 * number as a count, so a single pinned core is written as the range "N-N" (MAAS does the same);
 * consecutive cores are folded into ranges.
 */
export function limitsCpu(vcpus: number, pinned: readonly number[]): string {
  if (pinned.length === 0) return String(vcpus);
  const cpus = [...new Set(pinned)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < cpus.length;) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === (cpus[j] ?? 0) + 1) j++;
    const a = cpus[i] ?? 0;
    const b = cpus[j] ?? 0;
    parts.push(a === b ? `${a}` : j === i + 1 ? `${a},${b}` : `${a}-${b}`);
    i = j + 1;
  }
  const out = parts.join(',');
  return /^\d+$/.test(out) ? `${out}-${out}` : out;
}

/** Host cpu ids of a `limits.cpu` value, or undefined when it is a count. */
export function pinnedFromLimitsCpu(value: string): number[] | undefined {
  if (/^\d+$/.test(value)) return undefined;
  const out: number[] = [];
  for (const part of value.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** LXD's name for a hugepage size in container limits (`limits.hugepages.2MB`). */
function hugepageKey(bytes: number): string | undefined {
  const map: Record<number, string> = { [64 * 1024]: '64KB', [1024 ** 2]: '1MB', [2 * 1024 ** 2]: '2MB', [1024 ** 3]: '1GB' };
  return map[bytes];
}

export interface LxdDevice {
  readonly [key: string]: string;
}

export interface LxdVolumeRequest {
  readonly pool: string;
  readonly name: string;
  readonly sizeBytes: number;
  readonly contentType: 'block' | 'filesystem';
}

export interface LxdInstanceRequest {
  readonly name: string;
  readonly type: LxdInstanceType;
  readonly description: string;
  readonly config: Readonly<Record<string, string>>;
  readonly devices: Readonly<Record<string, LxdDevice>>;
  readonly source:
    | { readonly type: 'none' }
    | { readonly type: 'image'; readonly alias: string }
    | { readonly type: 'image'; readonly fingerprint: string };
}

export interface InstanceOptions {
  readonly type: LxdInstanceType;
  /** Image alias or fingerprint for containers (VMs start empty, to be network-booted as MAAS does). */
  readonly image?: string;
}

/**
 * The instance (and custom volumes) a DomainSpec asks for.
 *
 * - Disk 0 is the root device in its pool, sized as claimed: the instance's own volume, one block
 *   device from the pool (the MAAS seed's rule for LXD VM hosts). Each further disk is one custom volume
 *   `<instance>-disk<i>` in its pool (`block` for VMs; `filesystem` mounted at `/mnt/disk<i>` for containers,
 *   which cannot take block devices).
 * - `limits.cpu` pinned set or count, `limits.memory`, hugepages (`limits.memory.hugepages` for VMs,
 *   `limits.hugepages.<size>` for containers), each claimed PCI device as a `gpu` device by address,
 *   SR-IOV VFs as `nic` devices of type `sriov` on the claimed NIC, one `nic` per requested network.
 */
export function instanceFromSpec(spec: DomainSpec, opts: InstanceOptions): { instance: LxdInstanceRequest; volumes: LxdVolumeRequest[] } {
  assertVmId(spec.vmId);
  const name = lxdInstanceName(spec.vmId);
  const vm = opts.type === 'virtual-machine';
  const config: Record<string, string> = {
    [VM_ID_KEY]: spec.vmId,
    'limits.cpu': limitsCpu(spec.vcpus, spec.pinnedCpus),
    'limits.memory': `${spec.memoryBytes}B`,
  };
  if (spec.hugepageSizeBytes !== undefined) {
    if (vm) config['limits.memory.hugepages'] = 'true';
    else {
      const key = hugepageKey(spec.hugepageSizeBytes);
      if (key === undefined) throw new Error(`hugepage size ${spec.hugepageSizeBytes} has no LXD limit key (64KB, 1MB, 2MB, 1GB)`);
      config[`limits.hugepages.${key}`] = `${spec.memoryBytes}B`;
    }
  }
  if (vm) config['security.secureboot'] = 'false';
  const devices: Record<string, LxdDevice> = {};
  const volumes: LxdVolumeRequest[] = [];
  spec.volumes.forEach((v, i) => {
    if (i === 0) {
      devices['root'] = { type: 'disk', path: '/', pool: v.pool, size: `${v.sizeBytes}B` };
      return;
    }
    const volName = lxdVolumeName(spec.vmId, i);
    volumes.push({ pool: v.pool, name: volName, sizeBytes: v.sizeBytes, contentType: vm ? 'block' : 'filesystem' });
    devices[`disk${i}`] = vm
      ? { type: 'disk', pool: v.pool, source: volName }
      : { type: 'disk', pool: v.pool, source: volName, path: `/mnt/disk${i}` };
  });
  spec.hostdevs.forEach((address, i) => {
    devices[`gpu${i}`] = { type: 'gpu', gputype: 'physical', pci: address };
  });
  let vf = 0;
  for (const { nic, count } of spec.vfs) {
    for (let k = 0; k < count; k++) devices[`sriov${vf++}`] = { type: 'nic', nictype: 'sriov', parent: nic };
  }
  spec.networks.forEach((network, i) => {
    devices[`eth${i}`] = { type: 'nic', network, name: `eth${i}` };
  });
  let source: LxdInstanceRequest['source'] = { type: 'none' };
  if (!vm || opts.image !== undefined) {
    if (opts.image === undefined) throw new Error('containers need an image');
    source = /^[0-9a-f]{64}$/.test(opts.image) ? { type: 'image', fingerprint: opts.image } : { type: 'image', alias: opts.image };
  }
  return { instance: { name, type: opts.type, description: spec.title.slice(0, 255), config, devices, source }, volumes };
}

/**
 * What a PATCH must set to bring an existing instance in line with the one asked for: the config keys
 * and devices Berth sets that differ (LXD's volatile keys are left alone), or undefined when none do.
 */
export function instanceChanges(
  existing: { readonly config: Readonly<Record<string, string>>; readonly devices: Readonly<Record<string, LxdDevice>> },
  wanted: LxdInstanceRequest,
): { config: Record<string, string>; devices: Record<string, LxdDevice> } | undefined {
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(wanted.config)) if (existing.config[k] !== v) config[k] = v;
  const devices: Record<string, LxdDevice> = {};
  for (const [k, d] of Object.entries(wanted.devices)) {
    const cur = existing.devices[k];
    if (!cur || JSON.stringify(Object.entries(cur).sort()) !== JSON.stringify(Object.entries(d).sort())) devices[k] = d;
  }
  if (Object.keys(config).length === 0 && Object.keys(devices).length === 0) return undefined;
  return { config, devices };
}
