/**
 * Pure mapping between Berth's DomainSpec and LXD instances, and from LXD's answers (instance state,
 * resources, lifecycle events) to the driver's types. No I/O here: everything is unit-tested.
 */
import { createHash } from 'node:crypto';
import type { DomainSpec } from '../domain-spec.ts';
import type { DomainState, HostFacts, HostNumaNode, LifecycleEvent, LifecycleKind, MemoryStats } from '../driver.ts';
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

/** LXD instance status -> the driver's domain state. */
export function stateFromLxd(status: string): DomainState {
  switch (status.toLowerCase()) {
    case 'running':
      return 'running';
    case 'stopped':
      return 'shut-off';
    case 'frozen':
    case 'freezing':
      return 'paused';
    case 'stopping':
    case 'aborting':
      return 'shutting-down';
    case 'error':
      return 'crashed';
    case 'starting':
    case 'thawed':
    case 'restarting':
      return 'running';
    default:
      return 'no-state';
  }
}

export interface LxdInstanceState {
  readonly status: string;
  readonly memory?: { readonly usage?: number; readonly usage_peak?: number; readonly swap_usage?: number; readonly total?: number };
}

/**
 * Memory statistics from `/1.0/instances/<name>/state`. `actualBytes` is the configured limit (LXD
 * reports no balloon size); `rssBytes` is LXD's usage; for VMs (whose agent reports `total`) the
 * difference is what the guest has unused.
 */
export function memoryStatsFromState(state: LxdInstanceState, limitBytes: number): MemoryStats {
  const usage = state.memory?.usage;
  const total = state.memory?.total;
  return {
    actualBytes: limitBytes,
    ...(usage !== undefined ? { rssBytes: usage } : {}),
    ...(total !== undefined && total > 0 ? { availableBytes: total } : {}),
    ...(usage !== undefined ? { unusedBytes: Math.max(0, (total !== undefined && total > 0 ? total : limitBytes) - usage) } : {}),
    ...(state.memory?.swap_usage !== undefined ? { swapOutBytes: state.memory.swap_usage } : {}),
  };
}

/** Parses an LXD size ("1GiB", "512MB", "1073741824", "256MiB") into bytes. */
export function parseLxdSize(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?)b?\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const base = m[3] !== '' ? 1024 : 1000;
  const pow = ['', 'k', 'm', 'g', 't', 'p', 'e'].indexOf(unit);
  return Math.round(n * base ** pow);
}

interface Resources {
  readonly cpu?: {
    readonly total?: number;
    readonly sockets?: readonly {
      readonly name?: string;
      readonly socket?: number;
      readonly cores?: readonly {
        readonly core?: number;
        readonly threads?: readonly { readonly id: number; readonly numa_node?: number; readonly online?: boolean }[];
      }[];
    }[];
  };
  readonly memory?: {
    readonly total?: number;
    readonly hugepages_size?: number;
    readonly nodes?: readonly { readonly numa_node: number; readonly total?: number; readonly hugepages_total?: number }[];
  };
  readonly gpu?: {
    readonly cards?: readonly {
      readonly pci_address?: string;
      readonly vendor?: string;
      readonly product?: string;
      readonly driver?: string;
    }[];
  };
  readonly network?: {
    readonly cards?: readonly {
      readonly pci_address?: string;
      readonly ports?: readonly { readonly id?: string }[];
      readonly sriov?: { readonly current_vfs?: number; readonly maximum_vfs?: number };
    }[];
  };
}

/** Host facts from `/1.0/resources`: CPU topology, NUMA nodes with their CPUs, memory and hugepages, GPUs, SR-IOV NICs. */
export function hostFactsFromResources(r: Resources): HostFacts {
  const sockets = r.cpu?.sockets ?? [];
  const threads = sockets.flatMap((s) => (s.cores ?? []).flatMap((c) => c.threads ?? []));
  const cpus = r.cpu?.total ?? threads.length;
  const coresPerSocket = Math.max(1, ...sockets.map((s) => (s.cores ?? []).length));
  const threadsPerCore = Math.max(1, ...sockets.flatMap((s) => (s.cores ?? []).map((c) => (c.threads ?? []).length)));
  const pageSize = r.memory?.hugepages_size ?? 0;
  const nodes: HostNumaNode[] = (r.memory?.nodes ?? []).map((n) => ({
    id: n.numa_node,
    cpus: threads
      .filter((t) => (t.numa_node ?? 0) === n.numa_node)
      .map((t) => t.id)
      .sort((a, b) => a - b),
    memoryBytes: n.total ?? 0,
    hugepages:
      pageSize > 0 && (n.hugepages_total ?? 0) > 0
        ? [{ pageSizeBytes: pageSize, total: Math.floor((n.hugepages_total ?? 0) / pageSize) }]
        : [],
  }));
  const gpus = (r.gpu?.cards ?? [])
    .filter((c) => c.pci_address !== undefined)
    .map((c) => ({
      address: c.pci_address ?? '',
      vendor: c.vendor ?? '',
      product: c.product ?? '',
    }));
  const sriovNics = (r.network?.cards ?? [])
    .filter((c) => (c.sriov?.maximum_vfs ?? 0) > 0)
    .map((c) => ({
      name: c.ports?.[0]?.id ?? c.pci_address ?? '',
      vfs: c.sriov?.maximum_vfs ?? 0,
    }));
  return {
    cpuModel: sockets[0]?.name ?? 'unknown',
    cpus,
    memoryBytes: r.memory?.total ?? 0,
    topology: { sockets: Math.max(1, sockets.length), coresPerSocket, threadsPerCore },
    numaNodes: nodes,
    gpus,
    sriovNics,
  };
}

export interface LxdEventMessage {
  readonly type?: string;
  readonly metadata?: { readonly action?: string; readonly source?: string; readonly context?: Record<string, unknown> };
}

const ACTIONS: Record<string, LifecycleKind> = {
  'instance-created': 'defined',
  'instance-updated': 'defined',
  'instance-deleted': 'undefined',
  'instance-started': 'started',
  'instance-restarted': 'started',
  'instance-resumed': 'resumed',
  'instance-paused': 'suspended',
  'instance-stopped': 'stopped',
  'instance-shutdown': 'shutdown',
};

/**
 * A lifecycle event from `/1.0/events?type=lifecycle`, or undefined for events that are not about
 * instances. The VM id comes from the instance name (`vmIdOf` resolves shortened names).
 */
export function lifecycleFromLxd(msg: LxdEventMessage, vmIdOf: (name: string) => string | undefined): LifecycleEvent | undefined {
  if (msg.type !== 'lifecycle') return undefined;
  const action = msg.metadata?.action ?? '';
  if (
    !action.startsWith('instance-') ||
    action.startsWith('instance-snapshot') ||
    action.startsWith('instance-log') ||
    action.startsWith('instance-file')
  )
    return undefined;
  const source = msg.metadata?.source ?? '';
  const m = /^\/1\.0\/instances\/([^/?]+)/.exec(source);
  if (!m?.[1]) return undefined;
  const name = decodeURIComponent(m[1]);
  const vmId = vmIdOf(name);
  return { domain: name, kind: ACTIONS[action] ?? 'other', detail: action, ...(vmId !== undefined ? { vmId } : {}) };
}
