import type { DomainSpec } from '../domain-spec.ts';
import type {
  DomainInfo,
  DomainState,
  DriverCapabilities,
  EventSubscription,
  HostFacts,
  HypervisorDriver,
  LifecycleEvent,
  MemoryStats,
  MigrateOptions,
  MigrationProgress,
  MigrationResult,
  StopOptions,
  CopyVolumesOptions,
  UndefineOptions,
} from '../driver.ts';
import { HypervisorError, MigrationError } from '../errors.ts';
import { vmIdOfDomain } from '../naming.ts';
import { Deadline, LxdClient } from './client.ts';
import { subscribeLifecycle } from './events.ts';
import { hostFactsFromResources } from './host-facts.ts';
import { instanceChanges, instanceFromSpec, lxdInstanceName, lxdInstancePath, VM_ID_KEY } from './instance.ts';
import { forceStopInstance, restartInstance, shutDownInstance, startInstance } from './power.ts';
import { memoryStatsFromState, parseLxdSize, stateFromLxd, type LxdInstance, type LxdInstanceState } from './instance-state.ts';
import type { LxdCredentials } from './tls.ts';
import { parseLxdUri, type LxdEndpoint } from './uri.ts';
import { createCustomVolume, deleteCustomVolumes } from './volumes.ts';

export { RECONNECTED } from './events.ts';

export interface LxdDriverOptions {
  /** `https://host[:port][?fingerprint=…&instance-type=…&image=…&project=…]` or `lxd+unix:///path/unix.socket[?…]`. */
  readonly uri: string;
  /** Berth's TLS client identity; required for https URIs. */
  readonly credentials?: LxdCredentials;
  /** Deadline of one driver call (every request and operation wait in it), default 30 s. */
  readonly callTimeoutMillis?: number;
  /** Delay before the first reconnect of the events websocket (doubles up to 5 s). */
  readonly reconnectMillis?: number;
}

const ALREADY_EXISTS = /already exists/i;

/**
 * Drives one LXD host through its REST API (see docs/lxd.md). Instances are named from the VM id
 * (`lxdInstanceName`) and carry it in `user.berth.vm-id`; a host URI with `instance-type=container`
 * makes Berth's VMs system containers (hosts without KVM, and the tests here).
 */
export class LxdDriver implements HypervisorDriver {
  readonly uri: string;
  readonly capabilities: DriverCapabilities;
  readonly endpoint: LxdEndpoint;
  private readonly lxd: LxdClient;
  private readonly broken: HypervisorError | undefined;
  private readonly callTimeoutMillis: number;
  private readonly reconnectMillis: number;
  private readonly subscriptions = new Set<EventSubscription>();
  /** Instance name -> VM id for names that had to be shortened (learned when defining or listing). */
  private readonly vmIds = new Map<string, string>();

  constructor(opts: LxdDriverOptions) {
    this.uri = opts.uri;
    // A URI or identity problem is reported by every call (a permanent error), not by the constructor,
    // so a registry of drivers never throws while looking one up.
    let endpoint: LxdEndpoint;
    try {
      endpoint = parseLxdUri(opts.uri);
      if (endpoint.transport === 'https' && !opts.credentials) {
        throw new Error('an https LXD host needs a client certificate and key (EXECUTOR_LXD_CERT / EXECUTOR_LXD_KEY)');
      }
    } catch (e) {
      this.broken = new HypervisorError('permanent', 'connect', opts.uri, e instanceof Error ? e.message : String(e));
      endpoint = { transport: 'unix', address: '/nonexistent', instanceType: 'container', project: 'default' };
    }
    this.endpoint = endpoint;
    this.lxd = new LxdClient(this.endpoint, opts.uri, opts.credentials);
    this.callTimeoutMillis = opts.callTimeoutMillis ?? 30_000;
    this.reconnectMillis = opts.reconnectMillis ?? 250;
    const vm = this.endpoint.instanceType === 'virtual-machine';
    this.capabilities = {
      // LXD moves VMs only between cluster members or with a second remote trusted both ways; not wired (docs/lxd.md).
      liveMigration: false,
      // `limits.memory` changes live: a balloon for VMs, the cgroup limit for containers.
      balloon: true,
      memoryStats: true,
      // LXD 5.0 has no key to bind guest memory to host NUMA nodes; pinned CPUs keep locality only.
      numa: false,
      cpuPinning: true,
      hugepages: true,
      pciPassthrough: vm,
      lifecycleEvents: true,
      // Instances carry their own volumes; copying them between remotes is not wired (as live migration).
      volumeCopy: false,
    };
  }

  private get client(): LxdClient {
    if (this.broken) throw this.broken;
    return this.lxd;
  }

  private deadline(millis = this.callTimeoutMillis): Deadline {
    return new Deadline(millis);
  }

  private vmIdOf(name: string): string | undefined {
    return this.vmIds.get(name) ?? vmIdOfDomain(name);
  }

  private async getInstance(vmId: string, deadline: Deadline): Promise<LxdInstance | undefined> {
    try {
      return await this.client.get<LxdInstance>(lxdInstancePath(vmId), deadline);
    } catch (e) {
      if (e instanceof HypervisorError && e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  async defineAndStart(spec: DomainSpec): Promise<void> {
    await this.createVolumes(spec);
    await this.define(spec);
    await this.start(spec.vmId);
  }

  private build(spec: DomainSpec): ReturnType<typeof instanceFromSpec> {
    try {
      return instanceFromSpec(spec, {
        type: this.endpoint.instanceType,
        ...(this.endpoint.image !== undefined ? { image: this.endpoint.image } : {}),
      });
    } catch (e) {
      throw new HypervisorError('permanent', 'define', this.uri, e instanceof Error ? e.message : String(e));
    }
  }

  async createVolumes(spec: DomainSpec): Promise<void> {
    const { volumes } = this.build(spec);
    const deadline = this.deadline();
    for (const v of volumes) await createCustomVolume(this.client, v, deadline);
  }

  async define(spec: DomainSpec): Promise<void> {
    const { instance } = this.build(spec);
    this.vmIds.set(instance.name, spec.vmId);
    const deadline = this.deadline();
    let existing = await this.getInstance(spec.vmId, deadline);
    if (!existing) {
      try {
        await this.client.call(
          'POST',
          '/1.0/instances',
          deadline,
          { ...instance, profiles: ['default'] },
          `create instance ${instance.name}`,
        );
        return;
      } catch (e) {
        // A concurrent or earlier attempt created it: fall through to bring it in line.
        if (!(e instanceof HypervisorError && ALREADY_EXISTS.test(e.message))) throw e;
        existing = await this.getInstance(spec.vmId, deadline);
        if (!existing) throw e;
      }
    }
    if (existing.type !== instance.type) {
      throw new HypervisorError(
        'permanent',
        'define',
        this.uri,
        `instance ${instance.name} exists as a ${existing.type}, not a ${instance.type}`,
      );
    }
    const changes = instanceChanges(existing, instance);
    if (changes === undefined) return;
    const { config, devices } = changes;
    // Redefine: PATCH merges the keys and devices Berth sets, leaving LXD's volatile keys alone.
    await this.client.call(
      'PATCH',
      lxdInstancePath(spec.vmId),
      deadline,
      { config, devices, description: instance.description },
      `update instance ${instance.name}`,
    );
  }

  async start(vmId: string): Promise<void> {
    await startInstance(this.client, vmId, this.deadline());
  }

  async reboot(vmId: string): Promise<void> {
    const graceSeconds = Math.max(1, Math.floor(this.callTimeoutMillis / 2000));
    await restartInstance(this.client, vmId, graceSeconds, this.deadline());
  }

  async stop(vmId: string, opts: StopOptions): Promise<'graceful' | 'forced' | 'already-stopped'> {
    const before = await this.state(vmId);
    if (before === undefined || before === 'shut-off' || before === 'crashed') return 'already-stopped';
    const seconds = Math.max(1, Math.ceil(opts.gracefulTimeoutMillis / 1000));
    const outcome = await shutDownInstance(this.client, vmId, seconds, this.deadline(opts.gracefulTimeoutMillis + this.callTimeoutMillis));
    if (outcome !== 'not-in-time') return outcome;
    await this.destroy(vmId);
    return 'forced';
  }

  async destroy(vmId: string): Promise<void> {
    await forceStopInstance(this.client, vmId, this.deadline());
  }

  async copyVolumes(_spec: DomainSpec, _opts: CopyVolumesOptions): Promise<void> {
    throw new HypervisorError(
      'permanent',
      'copyVolumes',
      this.uri,
      'LXD instances are not copied between remotes (not wired, as live migration)',
    );
  }

  /** `keepVolumes` is not honoured: an LXD instance's volumes are part of it (no shared-storage cold move). */
  async undefine(vmId: string, _opts?: UndefineOptions): Promise<void> {
    const deadline = this.deadline();
    const name = lxdInstanceName(vmId);
    const inst = await this.getInstance(vmId, deadline);
    if (inst) {
      if (stateFromLxd(inst.status) !== 'shut-off') await this.destroy(vmId);
      try {
        // Deleting the instance deletes its root volume; attached custom volumes go next.
        await this.client.call('DELETE', lxdInstancePath(vmId), deadline, undefined, `delete instance ${name}`);
      } catch (e) {
        if (!(e instanceof HypervisorError && e.kind === 'not-found')) throw e;
      }
    }
    await deleteCustomVolumes(this.client, vmId, deadline);
  }

  async state(vmId: string): Promise<DomainState | undefined> {
    try {
      const s = await this.client.get<LxdInstanceState>(lxdInstancePath(vmId, '/state'), this.deadline());
      return stateFromLxd(s.status);
    } catch (e) {
      if (e instanceof HypervisorError && e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  async listDomains(): Promise<DomainInfo[]> {
    const list = await this.client.get<LxdInstance[]>('/1.0/instances?recursion=1', this.deadline());
    return list.map((i) => {
      const tagged = i.config[VM_ID_KEY];
      if (tagged !== undefined && lxdInstanceName(tagged) === i.name) this.vmIds.set(i.name, tagged);
      const vmId = this.vmIdOf(i.name);
      return { name: i.name, state: stateFromLxd(i.status), ...(vmId !== undefined ? { vmId } : {}) };
    });
  }

  async hostFacts(): Promise<HostFacts> {
    return hostFactsFromResources(await this.client.get('/1.0/resources', this.deadline()));
  }

  async memoryStats(vmId: string): Promise<MemoryStats> {
    const deadline = this.deadline();
    const [inst, state] = await Promise.all([
      this.client.get<LxdInstance>(lxdInstancePath(vmId), deadline),
      this.client.get<LxdInstanceState>(lxdInstancePath(vmId, '/state'), deadline),
    ]);
    const limit = parseLxdSize(inst.config['limits.memory'] ?? '') ?? 0;
    return memoryStatsFromState(state, limit);
  }

  async setBalloonTarget(vmId: string, bytes: number): Promise<void> {
    // LXD applies a changed `limits.memory` to a running instance (balloon / cgroup) and keeps it.
    await this.client.call(
      'PATCH',
      lxdInstancePath(vmId),
      this.deadline(),
      { config: { 'limits.memory': `${Math.ceil(bytes)}B` } },
      `set memory of ${lxdInstanceName(vmId)}`,
    );
  }

  async migrate(_vmId: string, _opts: MigrateOptions): Promise<MigrationResult> {
    throw new MigrationError('failed-permanent', this.uri, "live migration is not supported by Berth's LXD driver (see docs/lxd.md)");
  }

  /** No migration job ever runs through this driver: nothing to abort. */
  async abortMigration(_vmId: string): Promise<void> {}

  async resumePostCopy(_vmId: string, _opts: MigrateOptions): Promise<void> {
    throw new HypervisorError('permanent', 'migrate --postcopy-resume', this.uri, 'LXD has no post-copy migration');
  }

  async migrationJob(_vmId: string): Promise<MigrationProgress | undefined> {
    return undefined;
  }

  /**
   * Lifecycle events from `/1.0/events?type=lifecycle`; the websocket reconnects until the
   * subscription is closed (events.ts says what a reconnection means for listeners).
   */
  async events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription> {
    const sub = await subscribeLifecycle(
      this.client,
      this.reconnectMillis,
      (name) => this.vmIdOf(name),
      onEvent,
      () => this.subscriptions.delete(sub),
    );
    this.subscriptions.add(sub);
    return sub;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.lxd.close();
  }
}
