import { HypervisorError } from '../errors.ts';
import { runVirsh, virshLimiter, type RunAs, type VirshOptions } from '../libvirt/virsh.ts';
import { LocalHostStats, SshHostStats, sshTargetOf, type HostFileStats } from './local.ts';
import {
  parseBlkdeviotune,
  parseDomblklist,
  parseGuestDomstats,
  parseNodeCpuStats,
  parseNodeMemoryTune,
  parseNodeMemStats,
  parseSchedinfo,
} from './parse.ts';
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

export interface LibvirtTelemetryOptions {
  readonly uri: string;
  readonly runAs?: RunAs;
  readonly callTimeoutMillis?: number;
  /** Where /proc and /sys are for a host on this machine (swap, anon pages, KSM files: libvirt does not report them). */
  readonly procDir?: string;
  readonly sysDir?: string;
  /** Where the SSH control sockets of hosts reached over SSH go (default /tmp). */
  readonly sshControlDir?: string;
  /**
   * For a host whose libvirt is reached over TCP or TLS (no SSH in its URI): an SSH endpoint on the host,
   * `ssh://[user@]host[:port][?keyfile=PATH&no_verify=1]`, through which its files are read as for a
   * `qemu+ssh://` host. Without it those statistics are absent (`capabilities.hostFiles` false).
   */
  readonly hostFilesSsh?: string;
}

/** The kernel's CFS period when none was set (µs). */
const DEFAULT_PERIOD = 100_000;

/** A guest's disks' I/O limits are read again every this many samples (1 min at 5 s); set ones are tracked in between. */
const IO_REFRESH_SAMPLES = 12;

const IO_FLAGS: Readonly<Record<keyof Omit<IoTune, 'device'>, (typeof IO_LIMIT_NAMES)[number]>> = {
  totalBytesSec: 'total_bytes_sec',
  readBytesSec: 'read_bytes_sec',
  writeBytesSec: 'write_bytes_sec',
  totalIopsSec: 'total_iops_sec',
  readIopsSec: 'read_iops_sec',
  writeIopsSec: 'write_iops_sec',
};

/** A URI whose daemon runs on this machine: `qemu:///system`, `qemu:///session`, `qemu+unix:///...`. */
const isLocal = (uri: string): boolean => /^[a-z]+(\+unix)?:\/\/\/|^test:/.test(uri);

/**
 * MOM's host and guest collectors over virsh: `nodememstats`, `nodecpustats`, `node-memory-tune`,
 * `nodeinfo` and one `domstats` for all running guests per sample (4 processes per host per sample;
 * `schedinfo` once per new guest). What libvirt does not report (swap, anon_pages, swap traffic,
 * ksm_run, ksmd's CPU) MOM reads from the host's /proc and /sys: here too, when the host is this
 * machine, or over the URI's own SSH (same user, port and key) when libvirt is reached over SSH, or
 * over the SSH endpoint `hostFilesSsh` names for a host reached over TCP or TLS. Without one, those
 * statistics are absent and `capabilities.hostFiles` says so: telemetry then evaluates the host with
 * them as optional statistics (services/telemetry/README.md, "Hosts reached over TCP or TLS").
 */
export class LibvirtTelemetry implements HostTelemetrySource {
  capabilities: TelemetryCapabilities;
  private readonly virsh: VirshOptions;
  private readonly limit = virshLimiter(2);
  private readonly local: HostFileStats | undefined;
  private cpuCount: number | undefined;
  private lastCpu: { busy: number; total: number } | undefined;
  private readonly cpuTunes = new Map<string, CpuTune>();
  private readonly ioTunes = new Map<string, { disks: DiskIoTune[]; age: number }>();
  private ksmSupported: boolean | undefined;

  constructor(private readonly opts: LibvirtTelemetryOptions) {
    this.virsh = { uri: opts.uri, timeoutMillis: opts.callTimeoutMillis ?? 30_000, ...(opts.runAs ? { runAs: opts.runAs } : {}) };
    const ssh = sshTargetOf(opts.uri) ?? (opts.hostFilesSsh !== undefined ? sshTargetOf(opts.hostFilesSsh) : undefined);
    if (opts.hostFilesSsh !== undefined && sshTargetOf(opts.hostFilesSsh) === undefined)
      throw new HypervisorError(
        'permanent',
        'telemetry',
        opts.uri,
        `host files endpoint ${opts.hostFilesSsh} is not an ssh://[user@]host[:port] URI`,
      );
    this.local =
      isLocal(opts.uri) && !opts.uri.startsWith('test')
        ? new LocalHostStats(opts.procDir, opts.sysDir)
        : ssh
          ? new SshHostStats(ssh, {
              timeoutMillis: opts.callTimeoutMillis ?? 30_000,
              ...(opts.sshControlDir ? { controlDir: opts.sshControlDir } : {}),
            })
          : undefined;
    const isTest = opts.uri.startsWith('test');
    // An unprivileged session daemon has no cgroups: `schedinfo` answers "CPU tuning is not available
    // in session mode" (test/telemetry-libvirt.e2e.spec.ts), so it is declared, not tried every interval.
    const isSession = /^[a-z0-9+]+:\/\/[^/]*\/session(?:\?|$)/.test(opts.uri);
    // libvirt's node memory tuning has no `run`: starting and stopping KSM is the host's own business.
    // Tuning is declared once node-memory-tune answers (an unprivileged session daemon refuses it).
    this.capabilities = {
      hostMemory: !isTest,
      ksmStats: !isTest,
      ksmRun: false,
      ksmTune: false,
      cpuTune: !isTest && !isSession,
      ioTune: !isTest,
      hostFiles: this.local !== undefined,
    };
  }

  private run(args: string[]): Promise<string> {
    return this.limit(() => runVirsh(this.virsh, args));
  }

  private optional(args: string[]): Promise<string | undefined> {
    return this.run(args).catch((e: unknown) => {
      if (e instanceof HypervisorError && e.kind !== 'transient') return undefined;
      throw e;
    });
  }

  async sample(): Promise<HostTelemetry> {
    const [mem, cpu, ksm, doms, info, local] = await Promise.all([
      this.optional(['nodememstats']),
      this.optional(['nodecpustats']),
      this.ksmSupported === false ? Promise.resolve(undefined) : this.optional(['node-memory-tune']),
      this.run(['domstats', '--list-running', '--state', '--balloon', '--vcpu', '--cpu-total', '--raw']),
      this.cpuCount === undefined ? this.optional(['nodeinfo']) : Promise.resolve(undefined),
      this.local ? this.local.sample() : Promise.resolve(undefined),
    ]);
    if (info !== undefined) {
      const m = /^CPU\(s\):\s+(\d+)/m.exec(info);
      if (m?.[1]) this.cpuCount = Number(m[1]);
    }
    if (this.ksmSupported === undefined) {
      this.ksmSupported = ksm !== undefined;
      this.capabilities = { ...this.capabilities, ksmTune: this.ksmSupported };
    }
    const guests = await this.withIoTune(await this.withCpuTune(parseGuestDomstats(doms)));
    const host: Record<string, number> = {
      ...(mem !== undefined ? parseNodeMemStats(mem) : {}),
      ...(local ?? {}),
      ...(ksm !== undefined ? parseNodeMemoryTune(ksm) : {}),
    };
    if (this.cpuCount !== undefined) host['cpu_count'] = this.cpuCount;
    const now = cpu !== undefined ? parseNodeCpuStats(cpu) : undefined;
    if (now && this.lastCpu && now.total > this.lastCpu.total) {
      host['cpu_usage'] = Math.round((1000 * (now.busy - this.lastCpu.busy)) / (now.total - this.lastCpu.total)) / 10;
    }
    if (now) this.lastCpu = now;
    if (host['ksm_pages_to_scan'] !== undefined) {
      // MOM's ksm_shareable: the guest memory KSM could merge, i.e. what the running guests hold.
      host['ksm_shareable'] = guests.reduce((s, g) => s + (g.stats['balloon_cur'] ?? 0), 0);
    }
    host['mem_committed'] = guests.reduce((s, g) => s + (g.stats['balloon_max'] ?? g.stats['balloon_cur'] ?? 0), 0);
    return { host, guests };
  }

  /** vcpu_quota/vcpu_period: read once per guest (schedinfo), then what was set; unlimited when unreadable. */
  private async withCpuTune(guests: GuestStats[]): Promise<GuestStats[]> {
    const alive = new Set(guests.map((g) => g.name));
    for (const k of this.cpuTunes.keys()) if (!alive.has(k)) this.cpuTunes.delete(k);
    return Promise.all(
      guests.map(async (g) => {
        let tune = this.cpuTunes.get(g.name);
        if (!tune) {
          const s = this.capabilities.cpuTune ? await this.optional(['schedinfo', g.name]) : undefined;
          const p = s !== undefined ? parseSchedinfo(s) : {};
          tune = { quota: p.quota ?? -1, period: p.period ?? DEFAULT_PERIOD };
          this.cpuTunes.set(g.name, tune);
        }
        return { ...g, stats: { ...g.stats, vcpu_quota: tune.quota, vcpu_period: tune.period } };
      }),
    );
  }

  /**
   * MOM's GuestIoTune per Berth guest: each disk's limits in force (`blkdeviotune --live`: `current`), the
   * limits it is defined with (`--config`: `maximum`, the VM's own I/O policy; libvirt has no guaranteed
   * share, so `guaranteed` is all 0). Read when a guest first appears and every IO_REFRESH_SAMPLES samples
   * (2 + 2 per disk virsh calls), what this source set is tracked in between, as vdsm caches them.
   */
  private async withIoTune(guests: GuestStats[]): Promise<GuestStats[]> {
    if (!this.capabilities.ioTune) return guests;
    const alive = new Set(guests.map((g) => g.name));
    for (const k of this.ioTunes.keys()) if (!alive.has(k)) this.ioTunes.delete(k);
    return Promise.all(
      guests.map(async (g) => {
        if (g.vmId === undefined) return g;
        let known = this.ioTunes.get(g.name);
        if (known === undefined || known.age >= IO_REFRESH_SAMPLES) {
          known = { disks: await this.readIoTune(g.name), age: 0 };
          this.ioTunes.set(g.name, known);
        } else known.age++;
        return known.disks.length > 0 ? { ...g, ioTune: known.disks } : g;
      }),
    );
  }

  private async readIoTune(domain: string): Promise<DiskIoTune[]> {
    const list = await this.optional(['domblklist', domain, '--details']);
    if (list === undefined) return [];
    const out: DiskIoTune[] = [];
    for (const d of parseDomblklist(list)) {
      const [live, config] = await Promise.all([
        this.optional(['blkdeviotune', domain, d.name, '--live']),
        this.optional(['blkdeviotune', domain, d.name, '--config']),
      ]);
      if (live === undefined) continue;
      const current = parseBlkdeviotune(live);
      // a transient domain has no definition: its limits in force are all it has
      out.push({ ...d, guaranteed: UNLIMITED_IO, maximum: config !== undefined ? parseBlkdeviotune(config) : current, current });
    }
    return out;
  }

  async setKsm(t: KsmTuning): Promise<void> {
    if (t.run !== undefined && !this.capabilities.ksmRun)
      throw new HypervisorError('permanent', 'node-memory-tune', this.opts.uri, 'libvirt cannot start or stop KSM');
    const args = ['node-memory-tune'];
    if (t.pagesToScan !== undefined) args.push('--shm-pages-to-scan', String(Math.round(t.pagesToScan)));
    if (t.sleepMillisecs !== undefined) args.push('--shm-sleep-millisecs', String(Math.round(t.sleepMillisecs)));
    if (t.mergeAcrossNodes !== undefined) args.push('--shm-merge-across-nodes', String(Math.round(t.mergeAcrossNodes)));
    if (args.length > 1) await this.run(args);
  }

  async setCpuTune(domain: string, t: CpuTune): Promise<void> {
    await this.run(['schedinfo', domain, '--live', `vcpu_quota=${Math.round(t.quota)}`, `vcpu_period=${Math.round(t.period)}`]);
    this.cpuTunes.set(domain, t);
  }

  async setIoTune(domain: string, t: IoTune): Promise<void> {
    const args = ['blkdeviotune', domain, t.device, '--live'];
    const put = (flag: string, v: number | undefined): void => void (v !== undefined && args.push(flag, String(Math.round(v))));
    put('--total-bytes-sec', t.totalBytesSec);
    put('--read-bytes-sec', t.readBytesSec);
    put('--write-bytes-sec', t.writeBytesSec);
    put('--total-iops-sec', t.totalIopsSec);
    put('--read-iops-sec', t.readIopsSec);
    put('--write-iops-sec', t.writeIopsSec);
    await this.run(args);
    // libvirt keeps the limits not named: so does what this source reports until it reads them again
    const known = this.ioTunes.get(domain);
    const disk = known?.disks.find((d) => d.name === t.device);
    if (known && disk) {
      const current: Record<string, number> = { ...disk.current };
      for (const [k, name] of Object.entries(IO_FLAGS)) {
        const v = t[k as keyof typeof IO_FLAGS];
        if (v !== undefined) current[name] = Math.round(v);
      }
      known.disks = known.disks.map((d) => (d === disk ? { ...d, current: current as IoLimits } : d));
    }
  }

  async close(): Promise<void> {}
}
