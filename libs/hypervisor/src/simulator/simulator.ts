import { EventEmitter } from 'node:events';
import type { DomainSpec } from '../domain-spec.ts';
import type {
  DomainInfo, DomainState, DriverCapabilities, EventSubscription, HostFacts, HypervisorDriver, LifecycleEvent, LifecycleKind,
  MemoryStats, MigrateOptions, StopOptions,
} from '../driver.ts';
import { HypervisorError, type HypervisorErrorKind } from '../errors.ts';
import { domainName, vmIdOfDomain } from '../naming.ts';

/**
 * An in-process fleet of simulated hosts for `npm start`'s demo fleet and load benchmarks.
 * Operations take a configurable time and can be made to fail; it is never a stand-in for
 * libvirt in tests that claim to test libvirt.
 */
export type SimOperation = 'define' | 'start' | 'stop' | 'destroy' | 'undefine' | 'state' | 'list' | 'migrate';

export interface SimHostConfig {
  readonly hostId: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly numaNodes?: number;
}

export interface SimulatorOptions {
  /** Added latency per operation in milliseconds (default 0). */
  readonly latencyMillis?: Partial<Record<SimOperation, number>>;
  /** Probability (0..1) that any mutating operation fails transiently. */
  readonly transientFailureRate?: number;
  /** Deterministic pseudo-random source for failure injection (default Math.random). */
  readonly random?: () => number;
}

interface SimDomain {
  state: DomainState;
  spec: DomainSpec;
}

interface SimHost {
  readonly config: SimHostConfig;
  readonly domains: Map<string, SimDomain>;
  readonly failures: { op: SimOperation; kind: HypervisorErrorKind; remaining: number }[];
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

export class SimulatorFleet {
  private readonly hosts = new Map<string, SimHost>();
  private readonly bus = new EventEmitter();
  constructor(private readonly opts: SimulatorOptions = {}) {
    this.bus.setMaxListeners(0);
  }

  addHost(config: SimHostConfig): string {
    if (!this.hosts.has(config.hostId)) this.hosts.set(config.hostId, { config, domains: new Map(), failures: [] });
    return `sim://${config.hostId}`;
  }

  /** The next `count` calls of `op` on the host fail with `kind`. */
  injectFailure(hostId: string, op: SimOperation, kind: HypervisorErrorKind, count = 1): void {
    this.host(hostId).failures.push({ op, kind, remaining: count });
  }

  clearFailures(hostId: string): void {
    this.host(hostId).failures.length = 0;
  }

  /** Changes a domain's state behind Berth's back (a guest that crashed or powered off). */
  setState(hostId: string, name: string, state: DomainState): void {
    const d = this.host(hostId).domains.get(name);
    if (d) d.state = state;
  }

  driver(uri: string): SimulatorDriver {
    const m = /^sim:\/\/([^/?#]+)/.exec(uri);
    if (!m?.[1]) throw new HypervisorError('permanent', 'connect', uri, 'not a sim://<host> URI');
    return new SimulatorDriver(this, m[1], uri);
  }

  /** @internal used by SimulatorDriver. */
  host(hostId: string): SimHost {
    const h = this.hosts.get(hostId);
    if (!h) throw new HypervisorError('transient', 'connect', `sim://${hostId}`, 'no such simulated host');
    return h;
  }

  /** @internal */
  async operate(hostId: string, op: SimOperation): Promise<SimHost> {
    await sleep(this.opts.latencyMillis?.[op] ?? 0);
    const host = this.host(hostId);
    const f = host.failures.find((x) => x.op === op && x.remaining > 0);
    if (f) {
      f.remaining--;
      throw new HypervisorError(f.kind, op, `sim://${hostId}`, 'injected failure');
    }
    const rate = this.opts.transientFailureRate ?? 0;
    if (rate > 0 && op !== 'state' && op !== 'list' && (this.opts.random ?? Math.random)() < rate) {
      throw new HypervisorError('transient', op, `sim://${hostId}`, 'injected random failure');
    }
    return host;
  }

  /** @internal */
  emit(hostId: string, name: string, kind: LifecycleKind, detail: string): void {
    const vmId = vmIdOfDomain(name);
    const e: LifecycleEvent = { domain: name, kind, detail, ...(vmId !== undefined ? { vmId } : {}) };
    this.bus.emit(hostId, e);
  }

  /** @internal */
  subscribe(hostId: string, fn: (e: LifecycleEvent) => void): () => void {
    this.bus.on(hostId, fn);
    return () => this.bus.off(hostId, fn);
  }
}

export class SimulatorDriver implements HypervisorDriver {
  readonly capabilities: DriverCapabilities = {
    liveMigration: true, balloon: true, memoryStats: true, numa: true, cpuPinning: true, hugepages: true, pciPassthrough: true,
    lifecycleEvents: true,
  };
  constructor(private readonly fleet: SimulatorFleet, readonly hostId: string, readonly uri: string) {}

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

  async createVolumes(_spec: DomainSpec): Promise<void> {}

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

  async undefine(vmId: string): Promise<void> {
    const host = await this.fleet.operate(this.hostId, 'undefine');
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
      cpuModel: 'simulated', cpus: config.cpus, memoryBytes: config.memoryBytes,
      topology: { sockets: nodes, coresPerSocket: per, threadsPerCore: 1 },
      numaNodes: Array.from({ length: nodes }, (_, id) => ({
        id, cpus: Array.from({ length: per }, (_, i) => id * per + i), memoryBytes: Math.floor(config.memoryBytes / nodes), hugepages: [],
      })),
    };
  }

  async memoryStats(vmId: string): Promise<MemoryStats> {
    const d = this.domain(this.fleet.host(this.hostId), vmId, 'dommemstat');
    const actual = d.spec.memoryBytes;
    return { actualBytes: actual, rssBytes: Math.floor(actual / 2), unusedBytes: Math.floor(actual / 2), availableBytes: actual };
  }

  async setBalloonTarget(vmId: string, bytes: number): Promise<void> {
    const d = this.domain(this.fleet.host(this.hostId), vmId, 'setmem');
    d.spec = { ...d.spec, memoryBytes: Math.min(bytes, d.spec.memoryBytes) };
  }

  async migrate(vmId: string, opts: MigrateOptions): Promise<void> {
    const host = await this.fleet.operate(this.hostId, 'migrate');
    const d = this.domain(host, vmId, 'migrate');
    const dest = this.fleet.driver(opts.destinationUri);
    const destHost = this.fleet.host(dest.hostId);
    destHost.domains.set(domainName(vmId), { state: d.state, spec: d.spec });
    host.domains.delete(domainName(vmId));
  }

  async events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription> {
    const off = this.fleet.subscribe(this.hostId, onEvent);
    return { close: async () => off() };
  }

  async close(): Promise<void> {}
}
