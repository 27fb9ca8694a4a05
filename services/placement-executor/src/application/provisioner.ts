import { domainSpecFromClaim, isTransient, type DomainSpec, type HypervisorDriver, type RealmSettings } from '@berth/hypervisor';
import type { Claim } from '@berth/fit';
import type { Logger } from '@berth/observability';
import type { VmCommand } from '../domain/vm/commands.ts';
import type { PendingOperation, ProvisionStep, VmState } from '../domain/vm/state.ts';
import type { Vms } from './vms.ts';

export interface ProvisionerOptions {
  readonly vms: Vms;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly realm: RealmSettings;
  readonly logger: Logger;
  readonly concurrency: number;
  readonly stopTimeoutMillis: number;
  readonly clock?: () => Date;
  /** Backoff between retries of transient failures; the last value repeats. */
  readonly retryDelaysMillis?: readonly number[];
  /** How often a started domain is checked until it runs (registration). */
  readonly registrationPollMillis?: number;
  /** Attempts of a start/stop/reboot/delete before it is reported failed. */
  readonly operationAttempts?: number;
}

type Outcome =
  | { readonly next: 'again'; readonly state?: VmState }
  | { readonly next: 'done' }
  | { readonly next: 'later'; readonly afterMillis: number };
const DONE: Outcome = { next: 'done' };

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Drives each VM's state machine one step at a time, recording every step in the log before the
 * next, so a restart resumes where the log stops (every step is idempotent on the hypervisor).
 * One VM is worked on by at most one task; at most `concurrency` VMs at once.
 */
export class Provisioner {
  private readonly queue = new Set<string>();
  private readonly active = new Set<string>();
  private readonly rerun = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, { count: number; last: string }>();
  private readonly idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly clock: () => Date;
  private readonly delays: readonly number[];

  constructor(private readonly o: ProvisionerOptions) {
    this.clock = o.clock ?? (() => new Date());
    this.delays = o.retryDelaysMillis ?? [200, 500, 1000, 2000, 5000];
  }

  /** Asks for the VM to be looked at (again); cheap and safe to call any number of times. */
  kick(vmId: string): void {
    if (this.stopped) return;
    const t = this.timers.get(vmId);
    if (t) {
      clearTimeout(t);
      this.timers.delete(vmId);
    }
    if (this.active.has(vmId)) this.rerun.add(vmId);
    else this.queue.add(vmId);
    this.pump();
  }

  /** True while the VM is queued, being worked on or waiting to retry. */
  isTracked(vmId: string): boolean {
    return this.queue.has(vmId) || this.active.has(vmId) || this.timers.has(vmId);
  }

  /** Resolves when nothing is queued, running or waiting to retry (tests, shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.clear();
    while (this.active.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private isIdle(): boolean {
    return this.queue.size === 0 && this.active.size === 0 && this.timers.size === 0;
  }

  private pump(): void {
    while (!this.stopped && this.active.size < this.o.concurrency && this.queue.size > 0) {
      const vmId = this.queue.values().next().value as string;
      this.queue.delete(vmId);
      this.active.add(vmId);
      void this.work(vmId).finally(() => {
        this.active.delete(vmId);
        if (this.rerun.delete(vmId)) this.queue.add(vmId);
        this.pump();
        if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async work(vmId: string): Promise<void> {
    try {
      let state = await this.o.vms.load(vmId);
      for (let i = 0; i < 20 && !this.stopped; i++) {
        const out = await this.step(vmId, state);
        if (out.next === 'done') return;
        if (out.next === 'later') {
          this.timers.set(
            vmId,
            setTimeout(() => {
              this.timers.delete(vmId);
              this.kick(vmId);
            }, out.afterMillis),
          );
          return;
        }
        state = out.state ?? (await this.o.vms.load(vmId));
      }
    } catch (e) {
      // The log could not be read or written (database down): look again later.
      this.o.logger.error({ err: e, vmId }, 'VM step failed; retrying');
      this.timers.set(
        vmId,
        setTimeout(() => {
          this.timers.delete(vmId);
          this.kick(vmId);
        }, 1000),
      );
    }
  }

  private async record(vmId: string, command: VmCommand): Promise<Outcome> {
    const { state } = await this.o.vms.execute(vmId, command);
    this.failures.delete(vmId);
    return { next: 'again', state };
  }

  private backoff(vmId: string, e: unknown): number {
    const f = this.failures.get(vmId) ?? { count: 0, last: '' };
    const next = { count: f.count + 1, last: message(e) };
    this.failures.set(vmId, next);
    return this.delays[Math.min(next.count - 1, this.delays.length - 1)] ?? 1000;
  }

  /** The domain of a VM as recorded (also what a cold move defines on the destination). */
  /** The VM's domain from its recorded request; with `claim` (a migration's destination claim) in place of the request's own. */
  spec(vmId: string, state: Extract<VmState, { request: unknown }>, claim?: Claim): DomainSpec {
    const r = state.request;
    return domainSpecFromClaim(
      {
        vmId,
        name: r.name,
        claim: claim ?? r.claim,
        passthroughCpu: r.passthroughCpu,
        networks: r.networks,
        ...(r.hugepageSizeBytes !== undefined ? { hugepageSizeBytes: r.hugepageSizeBytes } : {}),
        ...(r.topology !== undefined ? { topology: r.topology } : {}),
      },
      this.o.realm,
    );
  }

  private async step(vmId: string, state: VmState): Promise<Outcome> {
    switch (state.status) {
      case 'provisioning':
        return this.provisionStep(vmId, state);
      case 'running':
      case 'stopped':
        return state.pending ? this.operationStep(vmId, state, state.pending) : DONE;
      case 'unknown':
      case 'failed':
      case 'deleted':
        return DONE;
    }
  }

  private async provisionStep(vmId: string, state: Extract<VmState, { status: 'provisioning' }>): Promise<Outcome> {
    const driver = this.o.driverFor(state.location.hypervisorUri);
    if (state.pending?.operation === 'delete') {
      await driver.undefine(vmId);
      return this.record(vmId, { type: 'MarkDeleted', reason: 'deleted while provisioning' });
    }
    if (this.clock().getTime() > Date.parse(state.deadline)) {
      const last = this.failures.get(vmId)?.last;
      return this.fail(
        vmId,
        driver,
        `did not reach running within registration-timeout (${this.o.realm.registrationTimeoutMillis} ms)${last ? `; last error: ${last}` : ''}`,
        false,
      );
    }
    const spec = this.spec(vmId, state);
    // Carry out every step that completes at once, then record them in one append; a crash before
    // the append only means they are carried out again (each is idempotent).
    let reached = state.step;
    const advance = async (to: Exclude<ProvisionStep, 'requested'> | 'running'): Promise<Outcome> =>
      this.record(vmId, { type: 'Advance', to, volumes: spec.volumes });
    try {
      if (reached === 'requested') {
        if (spec.volumes.length > 0) await driver.createVolumes(spec);
        reached = 'volumes-created';
      }
      if (reached === 'volumes-created') {
        await driver.define(spec);
        reached = 'domain-defined';
      }
      if (reached === 'domain-defined') {
        await driver.start(vmId);
        reached = 'domain-started';
      }
      const s = await driver.state(vmId);
      if (s === 'running') return await advance('running');
      // Lost after a crash or powered off while booting: make it exist and run again (idempotent).
      if (s === undefined) await driver.define(spec);
      if (s === undefined || s === 'shut-off' || s === 'crashed') await driver.start(vmId);
      if (reached !== state.step) await advance(reached);
      return { next: 'later', afterMillis: this.o.registrationPollMillis ?? 250 };
    } catch (e) {
      if (reached !== state.step && reached !== 'requested') await advance(reached);
      if (isTransient(e) || (e as { kind?: string }).kind === 'not-found') {
        this.o.logger.warn({ vmId, err: message(e) }, 'transient hypervisor error; retrying');
        return { next: 'later', afterMillis: this.backoff(vmId, e) };
      }
      return this.fail(vmId, driver, message(e), true);
    }
  }

  private async fail(vmId: string, driver: HypervisorDriver, reason: string, permanent: boolean): Promise<Outcome> {
    // Compensate before reporting: the claim is released on the report, so nothing may stay behind.
    // If this cleanup fails, reconciliation removes the leftover domain later (expected 'absent').
    await driver.undefine(vmId).catch((e: unknown) => this.o.logger.warn({ vmId, err: message(e) }, 'cleanup after failure failed'));
    await this.o.vms.execute(vmId, { type: 'FailProvisioning', reason, permanent });
    this.failures.delete(vmId);
    return DONE;
  }

  private async operationStep(
    vmId: string,
    state: Extract<VmState, { status: 'running' | 'stopped' }>,
    op: PendingOperation,
  ): Promise<Outcome> {
    const driver = this.o.driverFor(state.location.hypervisorUri);
    try {
      switch (op.operation) {
        case 'delete':
          await driver.undefine(vmId);
          return this.record(vmId, { type: 'MarkDeleted', reason: 'delete requested' });
        case 'stop': {
          if (op.force) {
            const before = await driver.state(vmId);
            await driver.destroy(vmId);
            return this.record(vmId, {
              type: 'MarkStopped',
              how: before === 'shut-off' || before === undefined ? 'already-stopped' : 'forced',
            });
          }
          const how = await driver.stop(vmId, { gracefulTimeoutMillis: this.o.stopTimeoutMillis });
          return this.record(vmId, { type: 'MarkStopped', how });
        }
        case 'start':
          await driver.start(vmId);
          return this.record(vmId, { type: 'MarkStarted', cause: 'start-requested' });
        case 'reboot':
          if (state.status === 'stopped') await driver.start(vmId);
          else await driver.reboot(vmId);
          return this.record(vmId, { type: 'MarkStarted', cause: 'rebooted' });
      }
    } catch (e) {
      const attempts = this.o.operationAttempts ?? 5;
      if (isTransient(e) && (this.failures.get(vmId)?.count ?? 0) + 1 < attempts) {
        return { next: 'later', afterMillis: this.backoff(vmId, e) };
      }
      this.failures.delete(vmId);
      return this.record(vmId, { type: 'FailOperation', operation: op.operation, reason: message(e) });
    }
  }
}
