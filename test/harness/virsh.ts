/**
 * What libvirt itself says, read with `virsh` (never through Berth): domain states, vCPU pinning
 * from `dumpxml`, memory statistics, and the host's NUMA layout from `capabilities` (used to
 * register a host exactly as the daemon describes it).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One virsh call (no shell); rejects with virsh's stderr. */
export async function virsh(uri: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`virsh -c ${uri} ${args.join(' ')}: ${stderr || (e instanceof Error ? e.message : String(e))}`, { cause: e });
  }
}

/** Every defined domain (running or not) -> its state as virsh prints it (`running`, `shut off`, ...). */
export async function domainStates(uri: string): Promise<Map<string, string>> {
  const out = await virsh(uri, 'list', '--all');
  const states = new Map<string, string>();
  for (const line of out.split('\n')) {
    // " 3    berth-vm-01   running" / " -    berth-vm-02   shut off"
    const m = /^\s*(\S+)\s+(\S+)\s+(\S.*?)\s*$/.exec(line);
    if (m) states.set(m[2]!, m[3]!);
  }
  return states;
}

/** `6`, `6-7`, `0,2-3`, `^1` is not used by Berth -> the CPU ids. */
export function parseCpuset(cpuset: string): number[] {
  return cpuset.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map((s) => Number(s.trim()));
    if (a === undefined || !Number.isInteger(a)) throw new Error(`malformed cpuset '${cpuset}'`);
    if (b === undefined) return [a];
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** vCPU -> host CPUs from the live domain XML's `<cputune><vcpupin .../>`; empty when not pinned. */
export async function vcpuPins(uri: string, domain: string): Promise<Map<number, number[]>> {
  const xml = await virsh(uri, 'dumpxml', domain);
  const pins = new Map<number, number[]>();
  for (const m of xml.matchAll(/<vcpupin\s+vcpu=['"](\d+)['"]\s+cpuset=['"]([^'"]+)['"]\s*\/>/g)) {
    pins.set(Number(m[1]), parseCpuset(m[2]!));
  }
  return pins;
}

/** `virsh dommemstat`: every figure (KiB) by name, e.g. `actual`, `rss`. */
export async function domMemStat(uri: string, domain: string): Promise<Map<string, number>> {
  const out = await virsh(uri, 'dommemstat', domain);
  const stats = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\S+)\s+(\d+)\s*$/.exec(line);
    if (m) stats.set(m[1]!, Number(m[2]));
  }
  return stats;
}

export interface LibvirtHostLayout {
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly topology: { readonly sockets: number; readonly coresPerSocket: number; readonly threadsPerCore: number };
  readonly numaNodes: readonly { readonly id: number; readonly cpus: readonly number[]; readonly memoryBytes: number }[];
}

/**
 * The host as `virsh capabilities` describes it: NUMA cells with their CPU ids and memory, and the
 * CPU topology. Memory is the sum of the cells (the test driver's `nodeinfo` reports less than its
 * own cells hold; the cells are what pinning and NUMA placement use).
 */
export async function hostLayout(uri: string): Promise<LibvirtHostLayout> {
  const caps = await virsh(uri, 'capabilities');
  const host = /<host>([\s\S]*?)<\/host>/.exec(caps)?.[1];
  if (host === undefined) throw new Error(`no <host> in the capabilities of ${uri}`);
  const topo = /<topology\s+sockets=['"](\d+)['"](?:\s+dies=['"]\d+['"])?\s+cores=['"](\d+)['"]\s+threads=['"](\d+)['"]/.exec(host);
  const numaNodes = [...host.matchAll(/<cell\s+id=['"](\d+)['"]>([\s\S]*?)<\/cell>/g)].map((m) => {
    const body = m[2]!;
    const kib = /<memory\s+unit=['"]KiB['"]>(\d+)<\/memory>/.exec(body)?.[1];
    if (kib === undefined) throw new Error(`NUMA cell ${m[1]} of ${uri} has no memory in KiB`);
    const cpus = [...body.matchAll(/<cpu\s+id=['"](\d+)['"]/g)].map((c) => Number(c[1]));
    return { id: Number(m[1]), cpus, memoryBytes: Number(kib) * 1024 };
  });
  if (numaNodes.length === 0) throw new Error(`no NUMA cells in the capabilities of ${uri}`);
  const cpus = numaNodes.reduce((n, c) => n + c.cpus.length, 0);
  const memoryBytes = numaNodes.reduce((n, c) => n + c.memoryBytes, 0);
  const topology = topo
    ? { sockets: Number(topo[1]), coresPerSocket: Number(topo[2]), threadsPerCore: Number(topo[3]) }
    : { sockets: 1, coresPerSocket: cpus, threadsPerCore: 1 };
  return { cpus, memoryBytes, topology, numaNodes };
}
