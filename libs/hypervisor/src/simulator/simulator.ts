import { EventEmitter } from 'node:events';
import type { DomainSpec } from '../domain-spec.ts';
import type { DomainState, LifecycleEvent, LifecycleKind } from '../driver.ts';
import { HypervisorError, type HypervisorErrorKind } from '../errors.ts';
import { vmIdOfDomain } from '../naming.ts';
import type { SimMigrationFailureRule, SimMigrationSettings } from './migration.ts';
import { SimulatorDriver } from './simulator-driver.ts';
import { simHostOf, sleep, type SimHost, type SimHostConfig, type SimJob, type SimOperation, type SimulatorOptions } from './state.ts';

export type { SimHostConfig, SimOperation, SimulatorOptions } from './state.ts';

/**
 * An in-process fleet of simulated hosts for `npm start`'s demo fleet and load benchmarks.
 * Operations take a configurable time and can be made to fail; it is never a stand-in for
 * libvirt in tests that claim to test libvirt. Each host is driven through a SimulatorDriver
 * (simulator-driver.ts); live migrations between hosts run in live-migration.ts.
 */
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

  /** The VMs whose migration job an injected `stall` holds now (reached its point, not released). */
  stalled(): string[] {
    return [...this.jobs].filter(([, j]) => j.model.stalled).map(([key]) => key.slice(key.indexOf('/') + 1));
  }

  /**
   * Lets a stalled migration of the VM go on (and one not yet at its stall point never stop there);
   * returns how many jobs it released. A `stall` rule not yet taken by a migration is removed.
   */
  releaseStall(vmId: string): number {
    let n = 0;
    for (const [key, job] of this.jobs) {
      if (key.endsWith(`/${vmId}`) && job.model.hasFailure('stall')) {
        job.model.clearFailure();
        n++;
      }
    }
    for (const r of this.migrationRules) if (r.rule.failure === 'stall' && (r.rule.vmId ?? vmId) === vmId) r.remaining = 0;
    return n;
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
    const hostId = simHostOf(uri);
    if (hostId === undefined) throw new HypervisorError('permanent', 'connect', uri, 'not a sim://<host> URI');
    return new SimulatorDriver(this, hostId, uri);
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
