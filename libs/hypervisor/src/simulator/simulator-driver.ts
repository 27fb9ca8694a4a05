import type { DomainSpec } from '../domain-spec.ts';
import type {
  CopyVolumesOptions,
  DomainInfo,
  DomainState,
  DriverCapabilities,
  EventSubscription,
  HostFacts,
  HypervisorDriver,
  LifecycleEvent,
  LifecycleKind,
  MemoryStats,
  MigrateOptions,
  MigrationProgress,
  MigrationResult,
  StopOptions,
  UndefineOptions,
} from '../driver.ts';
import { HypervisorError } from '../errors.ts';
import { domainName, vmIdOfDomain } from '../naming.ts';
import { abortMigration, migrationJob, resumePostCopy, startMigration, type SimSide } from './live-migration.ts';
import type { SimulatorFleet } from './simulator.ts';
import { simHostOf, sleep, type SimDomain, type SimHost } from './state.ts';

/** What a simulated host can do, in process or through the simulator daemon (remote-client.ts). */
export const SIMULATOR_CAPABILITIES: DriverCapabilities = {
  liveMigration: true,
  balloon: true,
  memoryStats: true,
  numa: true,
  cpuPinning: true,
  hugepages: true,
  pciPassthrough: true,
  lifecycleEvents: true,
  volumeCopy: true,
};

/** Drives one host of a SimulatorFleet (`sim://<host>`): lifecycle, volumes, facts, balloon, events. */
export class SimulatorDriver implements HypervisorDriver {
  readonly capabilities: DriverCapabilities = SIMULATOR_CAPABILITIES;
  private readonly side: SimSide;
  constructor(
    private readonly fleet: SimulatorFleet,
    readonly hostId: string,
    readonly uri: string,
  ) {
    this.side = { fleet, hostId, uri };
  }

  private domain(host: SimHost, vmId: string, op: string): SimDomain {
    const d = host.domains.get(domainName(vmId));
    if (!d) throw new HypervisorError('not-found', op, this.uri, `Domain not found: ${domainName(vmId)}`);
    return d;
  }

  private set(vmId: string, d: SimDomain, state: DomainState, kind: LifecycleKind, detail: string): void {
    d.state = state;
    this.fleet.emit(this.hostId, domainName(vmId), kind, detail);
  }

  async defineAndStart(spec: DomainSpec): Promise<void> {
    await this.createVolumes(spec);
    await this.define(spec);
    await this.start(spec.vmId);
  }

  async createVolumes(spec: DomainSpec): Promise<void> {
    const host = this.fleet.host(this.hostId);
    for (const v of spec.volumes) if (!host.volumes.has(`${v.pool}/${v.name}`)) host.volumes.set(`${v.pool}/${v.name}`, v.sizeBytes);
  }

  /**
   * Copies the volumes as a transfer at the fleet's migration bandwidth (the disks' full size: the
   * simulator keeps no allocation), in simulated time (`timeScale`); then they exist on the destination.
   */
  async copyVolumes(spec: DomainSpec, opts: CopyVolumesOptions): Promise<void> {
    await this.fleet.operate(this.hostId, 'copy-volumes');
    const destId = simHostOf(opts.destinationUri);
    if (destId === undefined)
      throw new HypervisorError('permanent', 'copy-volumes', this.uri, `${opts.destinationUri} is not a sim://<host> URI`);
    const dest = this.fleet.host(destId);
    const here = this.fleet.host(this.hostId);
    for (const v of spec.volumes) {
      if (!here.volumes.has(`${v.pool}/${v.name}`))
        throw new HypervisorError('not-found', 'copy-volumes', this.uri, `no storage vol ${v.pool}/${v.name}`);
    }
    const settings = this.fleet.migrationSettings;
    const bytes = spec.volumes.reduce((s, v) => s + v.sizeBytes, 0);
    const seconds = bytes / (settings.defaultBandwidthBytesPerSecond ?? 1024 ** 3);
    await sleep((seconds * 1000) / (settings.timeScale ?? 1));
    for (const v of spec.volumes) {
      const pool = opts.destinationVolumes?.find((d) => d.name === v.name)?.pool ?? v.pool;
      dest.volumes.set(`${pool}/${v.name}`, v.sizeBytes);
    }
  }

  async define(spec: DomainSpec): Promise<void> {
    const host = await this.fleet.operate(this.hostId, 'define');
    const name = domainName(spec.vmId);
    const existing = host.domains.get(name);
    if (existing) existing.spec = spec;
    else host.domains.set(name, { state: 'shut-off', spec });
  }

  async start(vmId: string): Promise<void> {
    const host = await this.fleet.operate(this.hostId, 'start');
    const d = this.domain(host, vmId, 'start');
    if (d.state !== 'running') this.set(vmId, d, 'running', 'started', 'Started Booted');
  }

  async reboot(vmId: string): Promise<void> {
    const host = await this.fleet.operate(this.hostId, 'start');
    this.set(vmId, this.domain(host, vmId, 'reboot'), 'running', 'started', 'Started Booted');
  }

  async stop(vmId: string, _opts: StopOptions): Promise<'graceful' | 'forced' | 'already-stopped'> {
    const host = await this.fleet.operate(this.hostId, 'stop');
    const d = host.domains.get(domainName(vmId));
    if (!d || d.state === 'shut-off') return 'already-stopped';
    this.set(vmId, d, 'shut-off', 'stopped', 'Stopped Shutdown');
    return 'graceful';
  }

  async destroy(vmId: string): Promise<void> {
    const host = await this.fleet.operate(this.hostId, 'destroy');
    const d = host.domains.get(domainName(vmId));
    if (d && d.state !== 'shut-off') this.set(vmId, d, 'shut-off', 'stopped', 'Stopped Destroyed');
  }

  async undefine(vmId: string, opts: UndefineOptions = {}): Promise<void> {
    const host = await this.fleet.operate(this.hostId, 'undefine');
    if (!opts.keepVolumes) {
      const prefix = `${domainName(vmId)}-disk`;
      for (const key of [...host.volumes.keys()]) if (key.split('/')[1]?.startsWith(prefix)) host.volumes.delete(key);
    }
    if (host.domains.delete(domainName(vmId))) this.fleet.emit(this.hostId, domainName(vmId), 'undefined', 'Undefined Removed');
  }

  async state(vmId: string): Promise<DomainState | undefined> {
    const host = await this.fleet.operate(this.hostId, 'state');
    return host.domains.get(domainName(vmId))?.state;
  }

  async listDomains(): Promise<DomainInfo[]> {
    const host = await this.fleet.operate(this.hostId, 'list');
    return [...host.domains].map(([name, d]) => {
      const vmId = vmIdOfDomain(name);
      return { name, state: d.state, ...(vmId !== undefined ? { vmId } : {}) };
    });
  }

  async hostFacts(): Promise<HostFacts> {
    const { config } = this.fleet.host(this.hostId);
    const nodes = Math.max(1, config.numaNodes ?? 1);
    const per = Math.floor(config.cpus / nodes);
    return {
      cpuModel: 'simulated',
      cpus: config.cpus,
      memoryBytes: config.memoryBytes,
      topology: { sockets: nodes, coresPerSocket: per, threadsPerCore: 1 },
      numaNodes: Array.from({ length: nodes }, (_, id) => ({
        id,
        cpus: Array.from({ length: per }, (_, i) => id * per + i),
        memoryBytes: Math.floor(config.memoryBytes / nodes),
        hugepages: [],
      })),
    };
  }

  async memoryStats(vmId: string): Promise<MemoryStats> {
    const d = this.domain(this.fleet.host(this.hostId), vmId, 'dommemstat');
    const actual = d.balloonBytes ?? d.spec.memoryBytes;
    return { actualBytes: actual, rssBytes: Math.floor(actual / 2), unusedBytes: Math.floor(actual / 2), availableBytes: actual };
  }

  async setBalloonTarget(vmId: string, bytes: number): Promise<void> {
    const d = this.domain(this.fleet.host(this.hostId), vmId, 'setmem');
    d.balloonBytes = Math.min(bytes, d.spec.memoryBytes);
  }

  async migrate(vmId: string, opts: MigrateOptions): Promise<MigrationResult> {
    return startMigration(this.side, vmId, opts);
  }

  async abortMigration(vmId: string): Promise<void> {
    return abortMigration(this.side, vmId);
  }

  async resumePostCopy(vmId: string, opts: MigrateOptions): Promise<void> {
    return resumePostCopy(this.side, vmId, opts);
  }

  async migrationJob(vmId: string): Promise<MigrationProgress | undefined> {
    return migrationJob(this.side, vmId);
  }

  async events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription> {
    const off = this.fleet.subscribe(this.hostId, onEvent);
    return { close: async () => off() };
  }

  async close(): Promise<void> {}
}
