import { XMLParser } from 'fast-xml-parser';
import type { DomainState, HostFacts, HostNumaNode, LifecycleEvent, LifecycleKind, MemoryStats } from '../driver.ts';
import { vmIdOfDomain } from '../naming.ts';

const STATES: Readonly<Record<number, DomainState>> = {
  0: 'no-state',
  1: 'running',
  2: 'blocked',
  3: 'paused',
  4: 'shutting-down',
  5: 'shut-off',
  6: 'crashed',
  7: 'suspended',
};

export function stateFromNumber(n: number): DomainState {
  return STATES[n] ?? 'no-state';
}

/** `virsh domstate` words. */
export function stateFromText(text: string): DomainState {
  const t = text.trim().toLowerCase();
  const map: Readonly<Record<string, DomainState>> = {
    running: 'running',
    idle: 'blocked',
    blocked: 'blocked',
    paused: 'paused',
    'in shutdown': 'shutting-down',
    'shut off': 'shut-off',
    crashed: 'crashed',
    pmsuspended: 'suspended',
  };
  return map[t] ?? 'no-state';
}

/** `virsh domstats --state --raw`: one block per domain, `Domain: 'name'` then `state.state=N`. */
export function parseDomstatsStates(text: string): { name: string; state: DomainState }[] {
  const out: { name: string; state: DomainState }[] = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^Domain: '(.*)'$/.exec(line.trim());
    if (head) {
      current = head[1];
      continue;
    }
    const st = /^state\.state=(\d+)$/.exec(line.trim());
    if (st && current !== undefined) {
      out.push({ name: current, state: stateFromNumber(Number(st[1])) });
      current = undefined;
    }
  }
  return out;
}

/** `virsh dommemstat` (KiB values) into bytes. */
export function parseDommemstat(text: string): MemoryStats {
  const kv = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)$/.exec(line.trim());
    if (m) kv.set(m[1] ?? '', Number(m[2]));
  }
  const kib = (k: string): number | undefined => (kv.has(k) ? (kv.get(k) ?? 0) * 1024 : undefined);
  const count = (k: string): number | undefined => kv.get(k);
  const pick = (entries: [string, number | undefined][]): Record<string, number> =>
    Object.fromEntries(entries.filter((e): e is [string, number] => e[1] !== undefined));
  return {
    actualBytes: kib('actual') ?? 0,
    ...pick([
      ['rssBytes', kib('rss')],
      ['availableBytes', kib('available')],
      ['usableBytes', kib('usable')],
      ['unusedBytes', kib('unused')],
      ['swapInBytes', kib('swap_in')],
      ['swapOutBytes', kib('swap_out')],
      ['majorFaults', count('major_fault')],
      ['minorFaults', count('minor_fault')],
    ]),
  };
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['cell', 'cpu', 'pages'].includes(name) });

interface CapsCell {
  id: string;
  memory?: { '#text': string; unit?: string } | string;
  pages?: { size: string; unit?: string; '#text'?: string }[];
  cpus?: { cpu?: { id: string; socket_id?: string; core_id?: string }[] };
}

const kibValue = (v: { '#text': string } | string | undefined): number => Number(typeof v === 'object' ? v['#text'] : (v ?? 0)) * 1024;

/** Host facts from `virsh nodeinfo` and `virsh capabilities`. */
export function parseHostFacts(nodeinfo: string, capabilities: string): HostFacts {
  const info = new Map<string, string>();
  for (const line of nodeinfo.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) info.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const num = (k: string): number => Number.parseInt(info.get(k) ?? '0', 10);
  const caps = xml.parse(capabilities) as { capabilities?: { host?: { topology?: { cells?: { cell?: CapsCell[] } } } } };
  const cells = caps.capabilities?.host?.topology?.cells?.cell ?? [];
  const numaNodes: HostNumaNode[] = cells.map((c) => ({
    id: Number(c.id),
    cpus: (c.cpus?.cpu ?? []).map((x) => Number(x.id)),
    memoryBytes: kibValue(c.memory),
    hugepages: (c.pages ?? [])
      .filter((p) => Number(p.size) > 8)
      .map((p) => ({ pageSizeBytes: Number(p.size) * 1024, total: Number(p['#text'] ?? 0) })),
  }));
  return {
    cpuModel: info.get('CPU model') ?? 'unknown',
    cpus: num('CPU(s)'),
    memoryBytes: num('Memory size') * 1024,
    topology: { sockets: num('CPU socket(s)'), coresPerSocket: num('Core(s) per socket'), threadsPerCore: num('Thread(s) per core') },
    numaNodes,
  };
}

const KINDS: Readonly<Record<string, LifecycleKind>> = {
  Defined: 'defined',
  Undefined: 'undefined',
  Started: 'started',
  Suspended: 'suspended',
  Resumed: 'resumed',
  Stopped: 'stopped',
  Shutdown: 'shutdown',
  Crashed: 'crashed',
};

/** One line of `virsh event --all --loop`, e.g. `event 'lifecycle' for domain 'vm': Started Booted`. */
export function parseEventLine(line: string): LifecycleEvent | undefined {
  const m = /^event '([\w-]+)' for domain '(.*)'(?::\s*(.*))?$/.exec(line.trim());
  if (!m) return undefined;
  const [, type = '', domain = '', rest = ''] = m;
  const vmId = vmIdOfDomain(domain);
  const kind: LifecycleKind = type === 'lifecycle' ? (KINDS[rest.split(' ')[0] ?? ''] ?? 'other') : 'other';
  return { domain, kind, detail: type === 'lifecycle' ? rest : `${type} ${rest}`.trim(), ...(vmId !== undefined ? { vmId } : {}) };
}
