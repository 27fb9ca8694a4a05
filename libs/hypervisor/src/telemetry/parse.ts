/** Parsers of virsh's telemetry outputs into MOM-named statistics (pure; see types.ts for units). */
import { vmIdOfDomain } from '../naming.ts';
import { IO_LIMIT_NAMES, UNLIMITED_IO, type GuestStats, type IoLimits } from './types.ts';

const numbers = (text: string, line: RegExp): Map<string, number> => {
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = line.exec(l.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
  }
  return out;
};

/** `virsh nodememstats` (KiB): total, free, buffers, cached. */
export function parseNodeMemStats(text: string): Record<string, number> {
  const kv = numbers(text, /^(\w+)\s*:\s*(-?\d+)\s*KiB$/);
  const total = kv.get('total');
  const free = kv.get('free');
  if (total === undefined || free === undefined) return {};
  const reclaimable = (kv.get('buffers') ?? 0) + (kv.get('cached') ?? 0);
  // MOM's HostMemory: mem_unused is MemFree alone; mem_free counts buffers and page cache as free.
  return { mem_available: total, mem_unused: free, mem_free: free + reclaimable };
}

/** `virsh nodecpustats` (cumulative ns): user, system, idle, iowait. */
export function parseNodeCpuStats(text: string): { busy: number; total: number } | undefined {
  const kv = numbers(text, /^(\w+)\s*:\s*(\d+)$/);
  const user = kv.get('user');
  const system = kv.get('system');
  const idle = kv.get('idle');
  if (user === undefined || system === undefined || idle === undefined) return undefined;
  const busy = user + system;
  return { busy, total: busy + idle + (kv.get('iowait') ?? 0) };
}

/** `virsh node-memory-tune`: `shm_<name> N` lines -> MOM's `ksm_<name>`. */
export function parseNodeMemoryTune(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of numbers(text, /^shm_(\w+)\s*:?\s*(\d+)$/)) out[`ksm_${k}`] = v;
  return out;
}

/** `/proc/meminfo` (a local host): swap, for MOM's swap_total/swap_usage, and anon_pages. */
export function parseMeminfo(text: string): Record<string, number> {
  const kv = numbers(text, /^(\w+):\s+(\d+)\s*kB$/);
  const out: Record<string, number> = {};
  const st = kv.get('SwapTotal');
  const sf = kv.get('SwapFree');
  if (st !== undefined && sf !== undefined) {
    out['swap_total'] = st;
    out['swap_usage'] = st - sf;
  }
  const anon = kv.get('AnonPages');
  if (anon !== undefined) out['anon_pages'] = anon;
  return out;
}

const GUEST_KEYS: Readonly<Record<string, string>> = {
  'balloon.current': 'balloon_cur',
  'balloon.maximum': 'balloon_max',
  'balloon.rss': 'rss',
  'balloon.available': 'mem_available',
  'balloon.unused': 'mem_unused',
  'balloon.usable': 'mem_usable',
  'balloon.swap_in': 'swap_in',
  'balloon.swap_out': 'swap_out',
  'balloon.major_fault': 'major_fault',
  'balloon.minor_fault': 'minor_fault',
  'balloon.disk_caches': 'disk_caches',
  'vcpu.current': 'vcpu_count',
  'vcpu.maximum': 'vcpu_max',
  'cpu.time': 'cpu_time',
  'cpu.user': 'cpu_user',
  'cpu.system': 'cpu_system',
};

/**
 * `virsh domstats --state --balloon --vcpu --cpu-total --raw`: one block per domain. Only running
 * (or blocked) domains are returned; statistics libvirt did not report are left out.
 */
export function parseGuestDomstats(text: string): GuestStats[] {
  const out: GuestStats[] = [];
  let name: string | undefined;
  let state = 0;
  let stats: Record<string, number> = {};
  const flush = (): void => {
    if (name !== undefined && (state === 1 || state === 2)) {
      const vmId = vmIdOfDomain(name);
      out.push({ name, stats, ...(vmId !== undefined ? { vmId } : {}) });
    }
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const head = /^Domain: '(.*)'$/.exec(line);
    if (head) {
      flush();
      name = head[1];
      state = 0;
      stats = {};
      continue;
    }
    const kv = /^([\w.-]+)=(-?\d+(?:\.\d+)?)$/.exec(line);
    if (!kv?.[1] || kv[2] === undefined) continue;
    if (kv[1] === 'state.state') state = Number(kv[2]);
    const mom = GUEST_KEYS[kv[1]];
    if (mom !== undefined) stats[mom] = Number(kv[2]);
  }
  flush();
  return out;
}

/** `virsh schedinfo DOMAIN`: vcpu_quota / vcpu_period when the scheduler exposes them. */
export function parseSchedinfo(text: string): { quota?: number; period?: number } {
  const kv = numbers(text, /^(\w+)\s*:\s*(-?\d+)$/);
  const quota = kv.get('vcpu_quota');
  const period = kv.get('vcpu_period');
  return { ...(quota !== undefined ? { quota } : {}), ...(period !== undefined ? { period } : {}) };
}

/** `virsh domblklist DOMAIN --details`: the domain's disks (device `disk`, not cdrom or floppy), target and source. */
export function parseDomblklist(text: string): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  for (const l of text.split('\n')) {
    const m = /^(\S+)\s+disk\s+(\S+)\s+(.*)$/.exec(l.trim());
    if (m?.[2] !== undefined && m[3] !== undefined && m[1] !== 'Type')
      out.push({ name: m[2], path: m[3].trim() === '-' ? '' : m[3].trim() });
  }
  return out;
}

/** `virsh blkdeviotune DOMAIN DEVICE`: the six limits MOM reads (the `_max`, `_max_length` and group fields are left out). */
export function parseBlkdeviotune(text: string): IoLimits {
  const kv = numbers(text, /^(\w+)\s*:\s*(\d+)$/);
  const out: Record<string, number> = { ...UNLIMITED_IO };
  for (const k of IO_LIMIT_NAMES) {
    const v = kv.get(k);
    if (v !== undefined) out[k] = v;
  }
  return out as IoLimits;
}
