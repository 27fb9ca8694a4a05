import { EventEmitter } from 'node:events';
import type { DomainSpec } from '../domain-spec.ts';
import type {
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
  CopyVolumesOptions,
  UndefineOptions,
} from '../driver.ts';
import { HypervisorError, MigrationError, type HypervisorErrorKind } from '../errors.ts';
import { domainName, vmIdOfDomain } from '../naming.ts';
import { MigrationModel, type SimMigrationFailureRule, type SimMigrationSettings } from './migration.ts';

/**
 * An in-process fleet of simulated hosts for `npm start`'s demo fleet and load benchmarks.
 * Operations take a configurable time and can be made to fail; it is never a stand-in for
 * libvirt in tests that claim to test libvirt.
 */
export type SimOperation = 'define' | 'start' | 'stop' | 'destroy' | 'undefine' | 'state' | 'list' | 'migrate' | 'copy-volumes';

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
  /** How live migrations between the fleet's hosts behave (bandwidth, dirty rate, time scale). */
  readonly migration?: SimMigrationSettings;
  /**
   * Capacity of hosts that come into being when first addressed (a driver, a migration's
   * destination). Without it, an unknown host is unreachable (transient).
   */
  readonly autoHost?: Omit<SimHostConfig, 'hostId'>;
}

interface SimDomain {
  state: DomainState;
  spec: DomainSpec;
  /** The destination side of a migration in progress (libvirt shows it paused, then running in post-copy). */
  incoming?: boolean;
  /** The balloon's current size (the allocation, spec.memoryBytes, when never set). */
  balloonBytes?: number;
}

/** One migration in progress, keyed by source host and VM. @internal */
interface SimJob {
  readonly model: MigrationModel;
  readonly startedAt: number;
  readonly destinationHostId: string;
  /** Pre-copy abort; undefined once past the switch-over. */
  abort?: (failure: 'aborted' | 'failed-transient', why: string) => void;
  /** Set while a post-copy is paused by a lost connection. */
  paused?: boolean;
}

interface SimHost {
  readonly config: SimHostConfig;
  readonly domains: Map<string, SimDomain>;
  readonly failures: { op: SimOperation; kind: HypervisorErrorKind; remaining: number }[];
  /** Volumes on this host's (local) storage: `<pool>/<name>` -> size in bytes. */
  readonly volumes: Map<string, number>;
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

export class SimulatorFleet {
  private readonly hosts = new Map<string, SimHost>();
  private readonly bus = new EventEmitter();
  private readonly migrationRules: { rule: SimMigrationFailureRule; remaining: number }[] = [];
  private readonly dirtyRates = new Map<string, number>();
  /** @internal migrations in progress, by `<source host>/<vmId>`. */
  readonly jobs = new Map<string, SimJob>();
  constructor(private readonly opts: SimulatorOptions = {}) {
    this.bus.setMaxListeners(0);
  }

  /** @internal */
  get migrationSettings(): SimMigrationSettings {
    return this.opts.migration ?? {};
  }

  /**
   * The next `rule.count` (default 1) migrations that match the rule's filters fail as it says
   * (`destination-define`, `mid-way`, `never-converges`, `postcopy-connection-loss`).
   */
  injectMigrationFailure(rule: SimMigrationFailureRule): void {
    this.migrationRules.push({ rule, remaining: rule.count ?? 1 });
  }

  /** How fast this VM's guest dirties memory (bytes per simulated second); overrides the fleet's default. */
  setDirtyRate(vmId: string, bytesPerSecond: number): void {
    this.dirtyRates.set(vmId, bytesPerSecond);
  }

  /** @internal */
  dirtyRateOf(vmId: string): number {
    return this.dirtyRates.get(vmId) ?? this.opts.migration?.dirtyRateBytesPerSecond ?? 0;
  }

  /** @internal the first injected migration failure that matches, consumed. */
  takeMigrationFailure(vmId: string, sourceHostId: string, destinationHostId: string): SimMigrationFailureRule | undefined {
    const hit = this.migrationRules.find(
      ({ rule, remaining }) =>
        remaining > 0 &&
        (rule.vmId ?? vmId) === vmId &&
        (rule.sourceHostId ?? sourceHostId) === sourceHostId &&
        (rule.destinationHostId ?? destinationHostId) === destinationHostId,
    );
    if (!hit) return undefined;
    hit.remaining--;
    return hit.rule;
  }

  addHost(config: SimHostConfig): string {
    if (!this.hosts.has(config.hostId)) this.hosts.set(config.hostId, { config, domains: new Map(), failures: [], volumes: new Map() });
    return `sim://${config.hostId}`;
  }

  /** The next `count` calls of `op` on the host fail with `kind`. */
  injectFailure(hostId: string, op: SimOperation, kind: HypervisorErrorKind, count = 1): void {
    this.host(hostId).failures.push({ op, kind, remaining: count });
  }

  clearFailures(hostId: string): void {
    this.host(hostId).failures.length = 0;
  }

  /** The volumes on a host's storage (`<pool>/<name>`): each host's storage is its own (no shared pools). */
  volumes(hostId: string): string[] {
    return [...this.host(hostId).volumes.keys()].sort();
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
    if (!this.hosts.has(hostId) && this.opts.autoHost) this.addHost({ ...this.opts.autoHost, hostId });
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
  specOf(job: SimJob, name: string): DomainSpec {
    const spec = this.host(job.destinationHostId).domains.get(name)?.spec;
    if (!spec) throw new HypervisorError('permanent', 'migrate', `sim://${job.destinationHostId}`, `${name} vanished during the migration`);
    return spec;
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
  constructor(
    private readonly fleet: SimulatorFleet,
    readonly hostId: string,
    readonly uri: string,
  ) {}

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
    const m = /^sim:\/\/([^/?#]+)/.exec(opts.destinationUri);
    if (!m?.[1]) throw new HypervisorError('permanent', 'copy-volumes', this.uri, `${opts.destinationUri} is not a sim://<host> URI`);
    const dest = this.fleet.host(m[1]);
    const here = this.fleet.host(this.hostId);
    for (const v of spec.volumes) {
      if (!here.volumes.has(`${v.pool}/${v.name}`))
        throw new HypervisorError('not-found', 'copy-volumes', this.uri, `no storage vol ${v.pool}/${v.name}`);
    }
    const settings = this.fleet.migrationSettings;
    const bytes = spec.volumes.reduce((s, v) => s + v.sizeBytes, 0);
    const seconds = bytes / (settings.defaultBandwidthBytesPerSecond ?? 1024 ** 3);
    await sleep((seconds * 1000) / (settings.timeScale ?? 1));
    for (const v of spec.volumes) dest.volumes.set(`${v.pool}/${v.name}`, v.sizeBytes);
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
    const fail = (failure: 'aborted' | 'failed-transient' | 'failed-permanent', why: string, kind?: HypervisorErrorKind): MigrationError =>
      new MigrationError(failure, this.uri, why, kind);
    if (opts.signal?.aborted) throw fail('aborted', 'migration aborted before it started');
    let host: SimHost;
    try {
      host = await this.fleet.operate(this.hostId, 'migrate');
    } catch (e) {
      throw asMigrationError(e, this.uri);
    }
    const name = domainName(vmId);
    const d = host.domains.get(name);
    if (!d || d.incoming) throw fail('failed-permanent', `Domain not found: ${name}`, 'not-found');
    if (d.state !== 'running' && d.state !== 'paused') throw fail('failed-permanent', `domain ${name} is not running (${d.state})`);
    const key = `${this.hostId}/${vmId}`;
    if (this.fleet.jobs.has(key)) throw fail('failed-transient', `another migration job of ${name} is already running`);
    const destId = /^sim:\/\/([^/?#]+)/.exec(opts.destinationUri)?.[1];
    if (destId === undefined) throw fail('failed-permanent', `${opts.destinationUri} is not a sim://<host> URI`);
    if (destId === this.hostId) throw fail('failed-permanent', 'the destination is the source');
    let destHost: SimHost;
    try {
      destHost = this.fleet.host(destId);
    } catch (e) {
      throw asMigrationError(e, this.uri);
    }
    if (destHost.domains.has(name)) throw fail('failed-permanent', `domain ${name} already exists on ${opts.destinationUri}`);
    const rule = this.fleet.takeMigrationFailure(vmId, this.hostId, destId);
    if (rule?.failure === 'destination-define')
      throw fail('failed-permanent', `${opts.destinationUri} refused to define ${name} (injected)`);
    try {
      await this.fleet.operate(destId, 'define');
    } catch (e) {
      throw asMigrationError(e, this.uri);
    }
    if (destHost.domains.has(name) || host.domains.get(name) !== d || this.fleet.jobs.has(key)) {
      throw fail('failed-transient', `${name} changed while the migration was being prepared`);
    }
    const settings = this.fleet.migrationSettings;
    const model = new MigrationModel(
      d.spec.memoryBytes,
      opts,
      settings,
      this.fleet.dirtyRateOf(vmId),
      rule ? { failure: rule.failure, atFraction: Math.min(1, Math.max(0, rule.atFraction ?? 0.5)) } : undefined,
    );
    const job: SimJob = { model, startedAt: Date.now(), destinationHostId: destId };
    this.fleet.jobs.set(key, job);
    destHost.domains.set(name, { state: 'paused', spec: d.spec, incoming: true });
    return this.run(vmId, job, opts, d.state);
  }

  /** Drives a job in real time until it completes, fails, is aborted or its post-copy pauses. */
  private run(vmId: string, job: SimJob, opts: MigrateOptions, finalState: DomainState): Promise<MigrationResult> {
    const settings = this.fleet.migrationSettings;
    const name = domainName(vmId);
    const key = `${this.hostId}/${vmId}`;
    const scale = settings.timeScale ?? 1;
    const stepMillis = settings.stepMillis ?? 10;
    const interval = opts.progressIntervalMillis ?? settings.progressIntervalMillis ?? 1000;
    const src = (): SimHost => this.fleet.host(this.hostId);
    const dst = (): SimHost => this.fleet.host(job.destinationHostId);
    return new Promise<MigrationResult>((resolve, reject) => {
      let last = Date.now();
      let lastReport = last;
      let timer: NodeJS.Timeout | undefined;
      let deadline: NodeJS.Timeout | undefined;
      const onAbort = (): void => job.abort?.('aborted', 'migration aborted');
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        if (deadline) clearTimeout(deadline);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const rollBack = (failure: 'aborted' | 'failed-transient' | 'failed-permanent', why: string): void => {
        finish();
        this.fleet.jobs.delete(key);
        const incoming = dst().domains.get(name);
        if (incoming?.incoming) dst().domains.delete(name);
        reject(new MigrationError(failure, this.uri, why));
      };
      job.abort = (failure, why) => rollBack(failure, why);
      const tick = (): void => {
        timer = undefined;
        const now = Date.now();
        const source = src().domains.get(name);
        if (job.model.phase === 'precopy' && (!source || (source.state !== 'running' && source.state !== 'paused'))) {
          rollBack('failed-permanent', `${name} stopped on the source during the migration`);
          return;
        }
        const step = job.model.advance(((now - last) / 1000) * scale);
        last = now;
        if (opts.onProgress && (now - lastReport >= interval || step.kind !== 'running')) {
          lastReport = now;
          opts.onProgress(job.model.progress(now - job.startedAt));
        }
        switch (step.kind) {
          case 'running':
            break;
          case 'switched-to-postcopy': {
            // The guest now runs on the destination; the source holds the memory not yet sent.
            job.abort = undefined;
            const s = src().domains.get(name);
            const t = dst().domains.get(name);
            if (s) s.state = 'paused';
            if (t) t.state = 'running';
            this.fleet.emit(this.hostId, name, 'suspended', 'Suspended Post-copy');
            this.fleet.emit(job.destinationHostId, name, 'resumed', 'Resumed Post-copy');
            break;
          }
          case 'connection-lost':
            if (step.phase === 'precopy') {
              rollBack('failed-transient', 'connection to the destination lost during pre-copy (injected): Connection reset by peer');
              return;
            } else {
              finish();
              job.paused = true;
              const s = src().domains.get(name);
              const t = dst().domains.get(name);
              // As libvirt shows it: the source `paused (post-copy failed)`, the destination still
              // `running (post-copy failed)` (its vCPUs stall on every page left on the source).
              if (s) s.state = 'paused';
              if (t) t.state = 'running';
              this.fleet.emit(this.hostId, name, 'suspended', 'Suspended Post-copy Error');
              resolve({
                outcome: 'postcopy-paused',
                detail: 'connection to the destination lost during post-copy (injected); resume with migrate --postcopy-resume',
              });
              return;
            }
          case 'completed': {
            finish();
            this.fleet.jobs.delete(key);
            const t = dst().domains.get(name);
            const s = src().domains.get(name);
            dst().domains.set(name, { state: finalState, spec: s?.spec ?? t?.spec ?? this.fleet.specOf(job, name) });
            src().domains.delete(name);
            // The simulator's hosts share no storage: the disks travel with the guest (as with --copy-storage-all).
            for (const [key, size] of [...src().volumes]) {
              if (!key.split('/')[1]?.startsWith(`${name}-disk`)) continue;
              src().volumes.delete(key);
              dst().volumes.set(key, size);
            }
            this.fleet.emit(this.hostId, name, 'stopped', 'Stopped Migrated');
            this.fleet.emit(this.hostId, name, 'undefined', 'Undefined Removed');
            this.fleet.emit(
              job.destinationHostId,
              name,
              job.model.phase === 'postcopy' ? 'resumed' : 'started',
              job.model.phase === 'postcopy' ? 'Resumed Post-copy' : 'Started Migrated',
            );
            this.fleet.emit(job.destinationHostId, name, 'defined', 'Defined Added');
            resolve({ outcome: 'completed' });
            return;
          }
        }
        timer = setTimeout(tick, stepMillis);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMillis !== undefined) {
        deadline = setTimeout(
          () => job.abort?.('failed-transient', `migration did not complete within ${opts.timeoutMillis} ms`),
          opts.timeoutMillis,
        );
      }
      timer = setTimeout(tick, 0);
    });
  }

  async abortMigration(vmId: string): Promise<void> {
    await this.fleet.operate(this.hostId, 'state');
    const job = this.fleet.jobs.get(`${this.hostId}/${vmId}`);
    if (!job) return;
    if (!job.abort) {
      throw new HypervisorError(
        'permanent',
        'domjobabort',
        this.uri,
        `the migration of ${domainName(vmId)} is in post-copy and cannot be aborted`,
      );
    }
    job.abort('aborted', 'migration aborted (domjobabort)');
  }

  async resumePostCopy(vmId: string, opts: MigrateOptions): Promise<void> {
    await this.fleet.operate(this.hostId, 'migrate');
    const name = domainName(vmId);
    const job = this.fleet.jobs.get(`${this.hostId}/${vmId}`);
    if (!job?.paused) {
      const destId = /^sim:\/\/([^/?#]+)/.exec(opts.destinationUri)?.[1];
      const there = destId !== undefined ? this.fleet.host(destId).domains.get(name) : undefined;
      // Already finished (a retried resume): the domain is gone from here and complete there.
      if (!this.fleet.host(this.hostId).domains.has(name) && there && !there.incoming) return;
      throw new HypervisorError('permanent', 'migrate --postcopy-resume', this.uri, `no paused post-copy migration of ${name}`);
    }
    job.paused = false;
    job.model.clearFailure();
    const result = await this.run(vmId, job, { ...opts, signal: undefined }, 'running');
    if (result.outcome !== 'completed') throw new HypervisorError('transient', 'migrate --postcopy-resume', this.uri, result.detail);
  }

  async migrationJob(vmId: string): Promise<MigrationProgress | undefined> {
    await this.fleet.operate(this.hostId, 'state');
    const job = this.fleet.jobs.get(`${this.hostId}/${vmId}`);
    return job ? job.model.progress(Date.now() - job.startedAt) : undefined;
  }

  async events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription> {
    const off = this.fleet.subscribe(this.hostId, onEvent);
    return { close: async () => off() };
  }

  async close(): Promise<void> {}
}

function asMigrationError(e: unknown, uri: string): MigrationError {
  if (e instanceof MigrationError) return e;
  if (e instanceof HypervisorError)
    return new MigrationError(e.kind === 'transient' ? 'failed-transient' : 'failed-permanent', uri, e.message, e.kind);
  return new MigrationError('failed-transient', uri, e instanceof Error ? e.message : String(e));
}
