import { executorEvents } from '@berth/contracts';
import type { EventStreams } from '@berth/event-store';
import { domainSpecFromClaim, type DomainInfo, type HypervisorDriver, type RealmSettings } from '@berth/hypervisor';
import type { Logger } from '@berth/observability';
import type { VmState } from '../domain/vm/state.ts';
import type { Vms } from './vms.ts';

export interface HostDirectory {
  hosts(): Promise<Map<string, string>>;
  vmsOnHost(hostId: string): Promise<readonly { vmId: string }[]>;
}

export interface ReconcilerOptions {
  readonly vms: Vms;
  readonly store: EventStreams;
  readonly directory: HostDirectory;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly realm: RealmSettings;
  readonly policy: 'restart' | 'report';
  readonly logger: Logger;
}

export interface ReconcileReport {
  readonly hosts: number;
  readonly unreachable: readonly string[];
  readonly drifts: number;
  readonly unknown: number;
}

const FAILED_STATES = new Set(['shut-off', 'crashed']);

/**
 * Compares what each hypervisor runs with what the log says, every poll-frequency. A VM that should
 * run and does not is reported and, by policy, restarted; a domain nothing owns is reported once and
 * never destroyed; a leftover domain of a VM that failed or was deleted here is removed and reported.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** (vm, actual) drifts already reported while only reporting, so each is reported once per process. */
  private readonly reported = new Set<string>();
  private readonly checking = new Map<string, Promise<boolean>>();

  constructor(private readonly o: ReconcilerOptions) {}

  start(intervalMillis = this.o.realm.pollFrequencyMillis): void {
    const tick = (): void => {
      this.running = this.reconcileOnce()
        .catch((e: unknown) => this.o.logger.error({ err: e }, 'reconciliation failed'))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMillis);
        });
    };
    this.timer = setTimeout(tick, intervalMillis);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async reconcileOnce(): Promise<ReconcileReport> {
    const hosts = await this.o.directory.hosts();
    const unreachable: string[] = [];
    let drifts = 0;
    let unknown = 0;
    for (const [hostId, uri] of hosts) {
      const driver = this.o.driverFor(uri);
      let domains: DomainInfo[];
      try {
        domains = await driver.listDomains();
      } catch (e) {
        unreachable.push(hostId);
        this.o.logger.warn({ hostId, err: e instanceof Error ? e.message : String(e) }, 'host unreachable during reconciliation');
        continue;
      }
      const byVm = new Map(domains.filter((d) => d.vmId !== undefined).map((d) => [d.vmId as string, d]));
      for (const row of await this.o.directory.vmsOnHost(hostId)) {
        if (await this.checkVm(row.vmId, hostId, driver, byVm.get(row.vmId))) drifts++;
      }
      for (const d of domains) {
        const r = await this.checkDomain(d, hostId, uri, driver);
        if (r === 'unknown') unknown++;
        if (r === 'removed') drifts++;
      }
    }
    return { hosts: hosts.size, unreachable, drifts, unknown };
  }

  /** One VM now (a lifecycle event said its domain stopped), instead of at the next tick. */
  async reconcileVm(hostId: string, uri: string, vmId: string): Promise<boolean> {
    const driver = this.o.driverFor(uri);
    const state = await driver.state(vmId);
    return this.checkVm(vmId, hostId, driver, state === undefined ? undefined : { name: `berth-${vmId}`, state, vmId });
  }

  /** A VM the log places on this host: does its domain match? One check per VM at a time. */
  private async checkVm(vmId: string, hostId: string, driver: HypervisorDriver, domain: DomainInfo | undefined): Promise<boolean> {
    const before = this.checking.get(vmId) ?? Promise.resolve(false);
    const next = before.then(
      () => this.checkVmNow(vmId, hostId, driver, domain),
      () => this.checkVmNow(vmId, hostId, driver, domain),
    );
    this.checking.set(vmId, next);
    try {
      return await next;
    } finally {
      if (this.checking.get(vmId) === next) this.checking.delete(vmId);
    }
  }

  private async checkVmNow(vmId: string, hostId: string, driver: HypervisorDriver, domain: DomainInfo | undefined): Promise<boolean> {
    const settled = (s: VmState): s is Extract<VmState, { status: 'running' | 'stopped' }> =>
      (s.status === 'running' || s.status === 'stopped') &&
      s.pending === null &&
      s.location.hostId === hostId &&
      // A VM in a migration (live or cold) belongs to the migrator until it ends.
      s.migration === undefined;
    let state = await this.o.vms.load(vmId);
    if (!settled(state)) return false;
    let actual: string = domain?.state ?? 'missing';
    if (actual !== 'running' && actual !== 'blocked') {
      // The listing may predate a restart by the lifecycle watch: look again before acting on a drift.
      actual = (await driver.state(vmId)) ?? 'missing';
      // And the domain may be gone because of a request recorded since the log was read (a delete or
      // stop carried out meanwhile): act only on what the log says now, or a deleted VM comes back.
      state = await this.o.vms.load(vmId);
      if (!settled(state)) return false;
    }
    if (state.status === 'running') {
      if (actual === 'running' || actual === 'blocked') return this.clear(vmId);
      if (actual !== 'missing' && !FAILED_STATES.has(actual)) return this.report(vmId, 'running', actual);
      if (this.o.policy === 'report') return this.report(vmId, 'running', actual);
      if (actual === 'missing') await driver.defineAndStart(this.spec(vmId, state));
      else await driver.start(vmId);
      await this.o.vms.execute(vmId, {
        type: 'ReportDrift',
        expected: 'running',
        actual,
        action: actual === 'missing' ? 'redefined-and-started' : 'restarted',
      });
      await this.o.vms.execute(vmId, { type: 'MarkStarted', cause: 'restarted-by-reconciliation' });
      return true;
    }
    if (actual === 'shut-off' || actual === 'crashed') return this.clear(vmId);
    return this.report(vmId, 'shut-off', actual);
  }

  private clear(vmId: string): boolean {
    for (const k of this.reported) if (k.startsWith(`${vmId}|`)) this.reported.delete(k);
    return false;
  }

  private async report(vmId: string, expected: 'running' | 'shut-off', actual: string): Promise<boolean> {
    const key = `${vmId}|${actual}`;
    if (this.reported.has(key)) return false;
    this.reported.add(key);
    await this.o.vms.execute(vmId, { type: 'ReportDrift', expected, actual, action: 'reported' });
    return true;
  }

  private spec(vmId: string, state: Extract<VmState, { status: 'running' }>) {
    const r = state.request;
    return domainSpecFromClaim(
      {
        vmId,
        name: r.name,
        claim: r.claim,
        passthroughCpu: r.passthroughCpu,
        networks: r.networks,
        ...(r.hugepageSizeBytes !== undefined ? { hugepageSizeBytes: r.hugepageSizeBytes } : {}),
        ...(r.topology !== undefined ? { topology: r.topology } : {}),
      },
      this.o.realm,
    );
  }

  /** A domain on this host: is it owned by a VM the log places here? */
  private async checkDomain(d: DomainInfo, hostId: string, uri: string, driver: HypervisorDriver): Promise<'ok' | 'unknown' | 'removed'> {
    const state = d.vmId === undefined ? undefined : await this.o.vms.load(d.vmId);
    if (state === undefined || state.status === 'unknown') {
      // Command id per (host, domain): reported once, however many times reconciliation sees it.
      const r = await this.o.store.append(
        executorEvents.executorHostStreamId(hostId),
        [
          {
            type: 'UnknownDomainFound',
            data: { hostId, hypervisorUri: uri, domainName: d.name, state: d.state } satisfies executorEvents.UnknownDomainFound,
          },
        ],
        { expectedVersion: 'any', commandId: `unknown-domain:${hostId}:${d.name}` },
      );
      if (!r.duplicate) this.o.logger.warn({ hostId, domain: d.name }, 'unknown domain found; left alone');
      return r.duplicate ? 'ok' : 'unknown';
    }
    const vmId = d.vmId as string;
    // The destination side of a migration (live: paused while memory arrives; cold: defined, shut off) is not a leftover.
    if ((state.status === 'running' || state.status === 'stopped') && state.migration !== undefined) return 'ok';
    const here = state.location.hostId === hostId;
    // A domain on another host than the VM's: an earlier attempt's leftover, or a define/start that a
    // frozen or unreachable hypervisor carried out after the call had timed out and the VM had been
    // placed elsewhere (test/fault-freeze.e2e.spec.ts). Only a migration (recorded on the running VM,
    // returned above) runs a VM on two hosts; while the VM is provisioning the next pass decides.
    const leftover = ((state.status === 'failed' || state.status === 'deleted') && here) || (!here && state.status !== 'provisioning');
    if (!leftover) return 'ok';
    await driver.undefine(vmId);
    if (state.status !== 'failed' && state.status !== 'deleted') return 'removed';
    await this.o.vms.execute(vmId, { type: 'ReportDrift', expected: 'absent', actual: d.state, action: 'removed' });
    return 'removed';
  }
}
