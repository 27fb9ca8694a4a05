import { domainName, vmIdOfDomain } from '../naming.ts';
import type { SimulatorFleet } from '../simulator/simulator.ts';
import {
  IO_LIMIT_NAMES,
  UNLIMITED_IO,
  type CpuTune,
  type DiskIoTune,
  type GuestStats,
  type HostTelemetry,
  type HostTelemetrySource,
  type IoLimits,
  type IoTune,
  type KsmTuning,
  type TelemetryCapabilities,
} from './types.ts';

/** A VM's I/O policy in the simulator (the `guaranteed` and `maximum` of MOM's io_tune), the same for each of its disks. */
export interface SimIoPolicy {
  readonly guaranteed?: Partial<IoLimits>;
  readonly maximum?: Partial<IoLimits>;
}

const IO_KEYS: Readonly<Record<Exclude<keyof IoTune, 'device'>, (typeof IO_LIMIT_NAMES)[number]>> = {
  totalBytesSec: 'total_bytes_sec',
  readBytesSec: 'read_bytes_sec',
  writeBytesSec: 'write_bytes_sec',
  totalIopsSec: 'total_iops_sec',
  readIopsSec: 'read_iops_sec',
  writeIopsSec: 'write_iops_sec',
};

/** The device name libvirt gives the i-th virtio disk (vda, vdb, ..., vdz, vdaa). */
const diskDevice = (i: number): string => {
  let n = i;
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `vd${s}`;
};

/** The fraction (0..1+) of its allocation a guest's workload wants at a time (seconds). */
export type WorkloadCurve = (tSeconds: number) => number;

export interface SimMemoryModelOptions {
  /** Seconds since an epoch; default wall time. */
  readonly now?: () => number;
  /** Per-guest curve; default a slow wave of 40-80% with a phase and period from the VM id. */
  readonly workload?: (vmId: string) => WorkloadCurve;
  /**
   * Physical memory of a simulated host. Default: the host's configured size, except for hosts
   * added without a real size (the executor's unbounded sim hosts, >= 2^45 bytes), which get 80% of
   * what their running guests were given, so demos and load tests see peaks press on them.
   */
  readonly hostMemoryBytes?: (hostId: string, configured: number, allocated: number) => number;
}

const KIB = 1024;
const PAGE_KIB = 4;

/** A small, stable hash of a string into [0, 1). */
function unit(s: string, salt: number): number {
  let h = 2166136261 ^ salt;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 100_000) / 100_000;
}

export const defaultWorkload = (vmId: string): WorkloadCurve => {
  const period = 300 + 600 * unit(vmId, 1);
  const phase = 2 * Math.PI * unit(vmId, 2);
  return (t) => 0.6 + 0.2 * Math.sin((2 * Math.PI * t) / period + phase);
};

interface GuestMemory {
  swapOutKib: number;
  swapInKib: number;
  majorFaults: number;
  minorFaults: number;
  cpuTimeNs: number;
  lastT: number | undefined;
  cpuTune?: CpuTune;
}

/**
 * The simulator's memory model: each running guest wants a share of its allocation that follows a
 * workload curve; what it gets is bounded by its balloon (the excess is swapped inside the guest, and
 * counted in swap_out and major faults); the host holds what its guests touch plus 2% for itself and
 * swaps when that exceeds its memory. KSM, when run, shares 10% of what guests hold.
 */
export class SimMemoryModel {
  private readonly guests = new Map<string, GuestMemory>();
  private readonly ksm = new Map<string, Required<KsmTuning>>();
  private readonly curves = new Map<string, WorkloadCurve>();
  private readonly reserved = new Map<string, number>();
  private readonly ioPolicies = new Map<string, SimIoPolicy>();
  /** `<host>/<domain>/<device>` -> the limits in force. */
  private readonly ioCurrent = new Map<string, IoLimits>();
  private readonly now: () => number;

  constructor(
    private readonly fleet: SimulatorFleet,
    private readonly opts: SimMemoryModelOptions = {},
  ) {
    this.now = opts.now ?? (() => Date.now() / 1000);
  }

  /** Overrides one guest's workload (tests, demos): a constant fraction or a curve. */
  setWorkload(vmId: string, w: number | WorkloadCurve): void {
    this.curves.set(vmId, typeof w === 'number' ? () => w : w);
  }

  /** Memory something other than the guests holds on the host (a demo's or test's pressure knob). */
  setHostReserved(hostId: string, bytes: number): void {
    this.reserved.set(hostId, bytes);
  }

  /**
   * The I/O limits a VM's policy allows each of its disks (MOM's io_tune `guaranteed` and `maximum`; unset
   * limits 0, i.e. none). Disks start unlimited (`current` all 0) until a control sets them.
   */
  setIoPolicy(vmId: string, policy: SimIoPolicy): void {
    this.ioPolicies.set(vmId, policy);
  }

  /** The limits in force on one disk of a simulated domain. */
  ioLimits(hostId: string, domain: string, device: string): IoLimits {
    return this.ioCurrent.get(`${hostId}/${domain}/${device}`) ?? UNLIMITED_IO;
  }

  /** @internal */
  setIoTune(hostId: string, domain: string, t: IoTune): void {
    const d = this.fleet.host(hostId).domains.get(domain);
    if (d === undefined) throw new Error(`no domain ${domain} on ${hostId}`);
    if (!this.disksOf(d.spec).some((x) => x.name === t.device)) throw new Error(`${domain} has no disk ${t.device}`);
    const key = `${hostId}/${domain}/${t.device}`;
    const cur: Record<string, number> = { ...(this.ioCurrent.get(key) ?? UNLIMITED_IO) };
    for (const [k, name] of Object.entries(IO_KEYS)) {
      const v = t[k as keyof typeof IO_KEYS];
      if (v !== undefined) cur[name] = Math.max(0, Math.round(v));
    }
    this.ioCurrent.set(key, cur as IoLimits);
  }

  private disksOf(spec: {
    readonly volumes: readonly { readonly name: string; readonly pool: string }[];
  }): { name: string; path: string }[] {
    return (spec.volumes ?? []).map((v, i) => ({ name: diskDevice(i), path: `${v.pool}/${v.name}` }));
  }

  private ioTuneOf(
    hostId: string,
    domain: string,
    vmId: string,
    spec: { readonly volumes: readonly { readonly name: string; readonly pool: string }[] },
  ): DiskIoTune[] {
    const policy = this.ioPolicies.get(vmId);
    const guaranteed = { ...UNLIMITED_IO, ...policy?.guaranteed };
    const maximum = { ...UNLIMITED_IO, ...policy?.maximum };
    return this.disksOf(spec).map((d) => ({ ...d, guaranteed, maximum, current: this.ioLimits(hostId, domain, d.name) }));
  }

  private curve(vmId: string): WorkloadCurve {
    let c = this.curves.get(vmId);
    if (!c) {
      c = (this.opts.workload ?? defaultWorkload)(vmId);
      this.curves.set(vmId, c);
    }
    return c;
  }

  source(hostId: string): HostTelemetrySource {
    return new SimulatorTelemetry(this, hostId);
  }

  /** @internal */
  sample(hostId: string): HostTelemetry {
    const host = this.fleet.host(hostId);
    const t = this.now();
    const guests: GuestStats[] = [];
    let touchedKib = 0;
    let allocatedKib = 0;
    let busyNs = 0;
    let busyDt = 0;
    for (const [name, d] of host.domains) {
      if (d.state !== 'running') continue;
      const vmId = vmIdOfDomain(name) ?? name;
      const maxKib = Math.floor(d.spec.memoryBytes / KIB);
      const curKib = Math.floor((d.balloonBytes ?? d.spec.memoryBytes) / KIB);
      const wantKib = Math.max(0, Math.floor(maxKib * this.curve(vmId)(t)));
      const usedKib = Math.min(wantKib, curKib);
      const m = this.guestState(`${hostId}/${name}`);
      const dt = m.lastT === undefined ? 0 : Math.max(0, t - m.lastT);
      m.lastT = t;
      // Wanting more than the balloon leaves: the guest pages the difference out (once per interval).
      if (wantKib > curKib && dt > 0) {
        m.swapOutKib += wantKib - curKib;
        m.majorFaults += Math.ceil((wantKib - curKib) / PAGE_KIB / 16);
      }
      m.minorFaults += Math.round(dt * 100);
      const vcpus = d.spec.vcpus;
      const share = m.cpuTune && m.cpuTune.quota > 0 ? Math.min(1, m.cpuTune.quota / m.cpuTune.period) : 1;
      const cpuNs = Math.round(dt * 1e9 * vcpus * 0.3 * share);
      m.cpuTimeNs += cpuNs;
      busyNs += cpuNs;
      busyDt = Math.max(busyDt, dt);
      touchedKib += usedKib;
      allocatedKib += maxKib;
      const ioTune = this.ioTuneOf(hostId, name, vmId, d.spec);
      guests.push({
        name,
        ...(vmIdOfDomain(name) !== undefined ? { vmId } : {}),
        ...(ioTune.length > 0 ? { ioTune } : {}),
        stats: {
          balloon_cur: curKib,
          balloon_max: maxKib,
          rss: usedKib,
          mem_available: curKib,
          mem_unused: curKib - usedKib,
          mem_usable: curKib - usedKib,
          swap_in: m.swapInKib,
          swap_out: m.swapOutKib,
          major_fault: m.majorFaults,
          minor_fault: m.minorFaults,
          vcpu_count: vcpus,
          cpu_time: m.cpuTimeNs,
          vcpu_quota: m.cpuTune?.quota ?? -1,
          vcpu_period: m.cpuTune?.period ?? 100_000,
        },
      });
    }
    const configured = host.config.memoryBytes;
    const physical = this.opts.hostMemoryBytes
      ? this.opts.hostMemoryBytes(hostId, configured, allocatedKib * KIB)
      : configured >= 2 ** 45
        ? Math.max(1024 ** 3, Math.floor(allocatedKib * KIB * 0.8))
        : configured;
    const totalKib = Math.floor(physical / KIB);
    const ksm = this.ksmOf(hostId);
    const sharedKib = ksm.run === 1 ? Math.floor(touchedKib * 0.1) : 0;
    const usedKib = Math.floor(totalKib * 0.02) + Math.floor((this.reserved.get(hostId) ?? 0) / KIB) + touchedKib - sharedKib;
    const freeKib = Math.max(0, totalKib - usedKib);
    return {
      host: {
        mem_available: totalKib,
        mem_unused: freeKib,
        mem_free: freeKib,
        swap_total: Math.floor(totalKib / 4),
        swap_in: 0,
        swap_out: Math.max(0, usedKib - totalKib) > 0 ? Math.ceil((usedKib - totalKib) / PAGE_KIB / 10) : 0,
        ksmd_cpu_usage: ksm.run === 1 ? 1.5 : 0,
        swap_usage: Math.min(Math.floor(totalKib / 4), Math.max(0, usedKib - totalKib)),
        anon_pages: touchedKib - sharedKib,
        mem_committed: allocatedKib,
        cpu_count: host.config.cpus,
        // the host's CPU use since the last sample (percent of all its CPUs): what its guests ran
        ...(busyDt > 0 ? { cpu_usage: Math.round((1000 * busyNs) / (busyDt * 1e9 * host.config.cpus)) / 10 } : {}),
        ksm_run: ksm.run,
        ksm_pages_to_scan: ksm.pagesToScan,
        ksm_sleep_millisecs: ksm.sleepMillisecs,
        ksm_merge_across_nodes: ksm.mergeAcrossNodes,
        ksm_pages_shared: Math.floor(sharedKib / PAGE_KIB / 4),
        ksm_pages_sharing: Math.floor(sharedKib / PAGE_KIB),
        ksm_pages_unshared: 0,
        ksm_pages_volatile: 0,
        ksm_full_scans: 0,
        ksm_shareable: touchedKib,
      },
      guests,
    };
  }

  private guestState(key: string): GuestMemory {
    let g = this.guests.get(key);
    if (!g) {
      g = { swapOutKib: 0, swapInKib: 0, majorFaults: 0, minorFaults: 0, cpuTimeNs: 0, lastT: undefined };
      this.guests.set(key, g);
    }
    return g;
  }

  /** @internal */
  ksmOf(hostId: string): Required<KsmTuning> {
    let k = this.ksm.get(hostId);
    if (!k) {
      k = { run: 0, pagesToScan: 100, sleepMillisecs: 20, mergeAcrossNodes: 1 };
      this.ksm.set(hostId, k);
    }
    return k;
  }

  /** @internal */
  setKsm(hostId: string, t: KsmTuning): void {
    const k = this.ksmOf(hostId);
    this.ksm.set(hostId, { ...k, ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) });
  }

  /** @internal */
  setCpuTune(hostId: string, domain: string, t: CpuTune): void {
    this.guestState(`${hostId}/${domain}`).cpuTune = t;
  }

  /** The domain name of a VM (helper for callers holding VM ids). */
  static domainOf(vmId: string): string {
    return domainName(vmId);
  }
}

class SimulatorTelemetry implements HostTelemetrySource {
  readonly capabilities: TelemetryCapabilities = {
    hostMemory: true,
    ksmStats: true,
    hostFiles: true,
    ksmRun: true,
    ksmTune: true,
    cpuTune: true,
    ioTune: true,
  };
  constructor(
    private readonly model: SimMemoryModel,
    private readonly hostId: string,
  ) {}
  async sample(): Promise<HostTelemetry> {
    return this.model.sample(this.hostId);
  }
  async setKsm(t: KsmTuning): Promise<void> {
    this.model.setKsm(this.hostId, t);
  }
  async setCpuTune(domain: string, t: CpuTune): Promise<void> {
    this.model.setCpuTune(this.hostId, domain, t);
  }
  async setIoTune(domain: string, t: IoTune): Promise<void> {
    this.model.setIoTune(this.hostId, domain, t);
  }
  async close(): Promise<void> {}
}
