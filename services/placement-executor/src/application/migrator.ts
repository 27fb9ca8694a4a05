import { isMigrationError, type HypervisorDriver, type MigrationProgress } from '@berth/hypervisor';
import type { Logger } from '@berth/observability';
import type { MigrationWork } from '../domain/vm/state.ts';
import { coldMove, type ColdMoveOptions } from './cold-move.ts';
import {
  completionBudgetMillis,
  dataPlaneOf,
  destinationSpec,
  whereRuns,
  type Migrating,
  type SpecOf,
  type Whereabouts,
} from './migration-hypervisors.ts';
import type { Vms } from './vms.ts';

export { completionBudgetMillis, dataPlaneOf, type Migrating } from './migration-hypervisors.ts';

export interface MigratorOptions {
  readonly vms: Vms;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly logger: Logger;
  /** Progress is recorded (and published) at most once per this interval. */
  readonly progressIntervalMillis: number;
  /** Clock for the budgets (tests). */
  readonly now?: () => number;
  /**
   * The VM's domain as recorded, with the destination's claim in place of its own when given: what a
   * cold move defines on the destination, and what a live one hands it (its pinning, NUMA binding, pools).
   */
  readonly specOf: SpecOf;
  /**
   * The hosts' drive pools are shared: a move copies no disks (a cold one keeps the source's volumes:
   * they are the destination's). Otherwise a cold move copies them first and a live one copies them
   * with the memory (`--copy-storage-all`) (EXECUTOR_SHARED_STORAGE).
   */
  readonly sharedStorage: boolean;
  /** How long to wait before looking again when neither hypervisor has the domain (default 1 s). */
  readonly confirmMillis?: number;
}

type Running = { readonly controller: AbortController; reason: 'budget' | 'cancelled' | null; detail: string };

/**
 * Carries out live migrations recorded in the log (VmMigrationStarted): calls the source's driver,
 * records progress at a bounded rate, enforces the completion budget and the no-progress timeout
 * (aborting the pre-copy: the VM keeps running on the source), and records how it ended. A migration
 * the log has but no call of this process runs (the executor restarted in the middle) is resolved by
 * asking both hypervisors where the domain runs.
 */
export class Migrator {
  private readonly running = new Map<string, Running>();
  private readonly resolving = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private stopped = false;

  private readonly cold: ColdMoveOptions;

  constructor(private readonly o: MigratorOptions) {
    this.cold = { ...o, stillNeither: (vmId, sourceUri, destinationUri) => this.stillNeither(vmId, sourceUri, destinationUri) };
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  isTracked(vmId: string): boolean {
    return this.running.has(vmId) || this.resolving.has(vmId);
  }

  /** A migration just recorded: run it. */
  start(vmId: string): void {
    if (this.stopped || this.isTracked(vmId)) return;
    this.track(this.run(vmId));
  }

  /** A migration found in the log with no call running here (after a restart): find out how it ended. */
  resume(vmId: string): void {
    if (this.stopped || this.isTracked(vmId)) return;
    this.resolving.add(vmId);
    this.track(this.resolve(vmId).finally(() => this.resolving.delete(vmId)));
  }

  /** Cancel recorded: abort the copy if it runs here (a pre-copy aborts; post-copy cannot). */
  abort(vmId: string, detail: string): void {
    const r = this.running.get(vmId);
    if (!r) return;
    r.reason ??= 'cancelled';
    r.detail ||= detail;
    r.controller.abort();
  }

  /** Post-copy paused: resume it (migration service's ResumeRequested). */
  resumePostCopy(vmId: string): void {
    if (this.stopped || this.isTracked(vmId)) return;
    this.resolving.add(vmId);
    this.track(this.resumePaused(vmId).finally(() => this.resolving.delete(vmId)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.tasks]);
  }

  private track(p: Promise<void>): void {
    const t = p.catch((e: unknown) => this.o.logger.warn({ err: e }, 'migration work failed; resumed by the sweep'));
    this.tasks.add(t);
    void t.finally(() => this.tasks.delete(t));
  }

  private async work(vmId: string): Promise<{ state: Migrating; work: MigrationWork } | undefined> {
    const state = await this.o.vms.load(vmId);
    if ((state.status !== 'running' && state.status !== 'stopped') || state.migration === undefined) return undefined;
    return { state, work: state.migration };
  }

  private async run(vmId: string): Promise<void> {
    const found = await this.work(vmId);
    if (!found || found.work.postCopyPaused !== null) return;
    const { state, work } = found;
    if (work.cold) return coldMove(this.cold, vmId, state, work);
    const destination = destinationSpec(this.o.specOf, vmId, state, work);
    if ('refused' in destination) {
      await this.o.vms.execute(vmId, { type: 'FailMigration', migrationId: work.migrationId, reason: destination.refused, cause: 'error' });
      return;
    }
    const r: Running = { controller: new AbortController(), reason: null, detail: '' };
    this.running.set(vmId, r);
    const abort = (reason: 'budget' | 'cancelled', detail: string): void => {
      r.reason ??= reason;
      r.detail ||= detail;
      r.controller.abort();
    };
    if (work.cancel !== null) abort('cancelled', work.cancel);
    const started = this.now();
    const budget = completionBudgetMillis(work);
    const noProgress = work.plan.noProgressTimeoutSeconds * 1000;
    let lastRemaining = Infinity;
    let lastProgressAt = started;
    let lastRecorded = 0;
    let recording: Promise<unknown> = Promise.resolve();
    const check = (): void => {
      const t = this.now();
      if (t - started > budget)
        abort(
          'budget',
          `completion budget of ${Math.round(budget / 1000)} s (${work.plan.completionBudgetSecondsPerGiB} s per GiB) used up`,
        );
      else if (t - lastProgressAt > noProgress) abort('budget', `no progress for ${work.plan.noProgressTimeoutSeconds} s`);
    };
    const watchdog = setInterval(check, Math.min(1000, Math.max(50, Math.floor(noProgress / 4))));
    const onProgress = (p: MigrationProgress): void => {
      const t = this.now();
      if (p.dataRemainingBytes < lastRemaining) {
        lastRemaining = p.dataRemainingBytes;
        lastProgressAt = t;
      }
      check();
      if (t - lastRecorded < this.o.progressIntervalMillis) return;
      lastRecorded = t;
      const progress = {
        dataTotalBytes: p.dataTotalBytes,
        dataProcessedBytes: p.dataProcessedBytes,
        dataRemainingBytes: p.dataRemainingBytes,
        elapsedMillis: p.elapsedMillis,
        phase: p.phase,
        ...(p.memoryDirtyRateBytesPerSecond !== undefined ? { memoryDirtyRateBytesPerSecond: p.memoryDirtyRateBytesPerSecond } : {}),
        ...(p.iteration !== undefined ? { iteration: p.iteration } : {}),
      };
      recording = recording
        .then(() => this.o.vms.execute(vmId, { type: 'RecordMigrationProgress', migrationId: work.migrationId, progress }))
        .catch(() => undefined);
    };
    const source = this.o.driverFor(state.location.hypervisorUri);
    try {
      const result = await source.migrate(vmId, {
        destinationUri: work.destination.uri,
        ...dataPlaneOf(work.destination.uri),
        // The destination's own pinning, NUMA binding and pools; its disks copied unless storage is shared.
        destination,
        copyStorage: !this.o.sharedStorage && destination.volumes.length > 0,
        ...(work.plan.bandwidthMiBps > 0 ? { bandwidthMiBps: work.plan.bandwidthMiBps } : {}),
        ...(work.plan.maxDowntimeMillis > 0 ? { maxDowntimeMillis: work.plan.maxDowntimeMillis } : {}),
        autoConverge: work.plan.autoConverge,
        postCopy: work.plan.postCopy,
        signal: r.controller.signal,
        onProgress,
        progressIntervalMillis: Math.min(1000, this.o.progressIntervalMillis),
      });
      await recording;
      if (result.outcome === 'completed') {
        await this.o.vms.execute(vmId, { type: 'CompleteMigration', migrationId: work.migrationId, confirmedBy: 'migrate-call' });
      } else {
        await this.o.vms.execute(vmId, { type: 'PauseMigration', migrationId: work.migrationId, detail: result.detail });
      }
    } catch (e) {
      await recording;
      const message = e instanceof Error ? e.message : String(e);
      // The call failed: before saying so, make sure the domain did not switch over anyway.
      const where = await this.whereRuns(vmId, state.location.hypervisorUri, work.destination.uri);
      if (where === 'destination') {
        await this.o.vms.execute(vmId, { type: 'CompleteMigration', migrationId: work.migrationId, confirmedBy: 'hypervisors' });
        return;
      }
      if (where === 'stopped-on-source') return this.guestStopped(vmId, state, work, message);
      const cause = r.reason ?? (isMigrationError(e) && e.failure === 'aborted' ? 'cancelled' : 'error');
      const reason = r.reason ? `${r.detail}; aborted, the VM keeps running on ${state.location.hostId}` : message;
      await this.o.vms.execute(vmId, { type: 'FailMigration', migrationId: work.migrationId, reason, cause });
    } finally {
      clearInterval(watchdog);
      this.running.delete(vmId);
    }
  }

  private whereRuns(vmId: string, sourceUri: string, destinationUri: string): Promise<Whereabouts> {
    return whereRuns(this.o.driverFor, vmId, sourceUri, destinationUri);
  }

  /**
   * After a restart the log says "migrating" and nobody knows how the call ended: wait for a job
   * still running on the source to finish (abort it when cancelled), then ask both hypervisors.
   */
  private async resolve(vmId: string): Promise<void> {
    const found = await this.work(vmId);
    if (!found || found.work.postCopyPaused !== null) return;
    const { state, work } = found;
    if (work.cold) return coldMove(this.cold, vmId, state, work);
    const source = this.o.driverFor(state.location.hypervisorUri);
    const deadline = this.now() + completionBudgetMillis(work);
    for (;;) {
      const job = await source.migrationJob(vmId).catch(() => undefined);
      if (job === undefined) break;
      // The cancel as the log has it now: one heard after this resolve began (the restarted executor's
      // intake records it while the job runs) aborts the job too, not only one recorded before the crash.
      const now = await this.work(vmId).catch(() => undefined);
      const cancelled = work.cancel !== null || (now?.work.cancel ?? null) !== null;
      if (cancelled || this.now() > deadline) await source.abortMigration(vmId).catch(() => undefined);
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    const where = await this.whereRuns(vmId, state.location.hypervisorUri, work.destination.uri);
    switch (where) {
      case 'destination':
        await this.o.vms.execute(vmId, { type: 'CompleteMigration', migrationId: work.migrationId, confirmedBy: 'hypervisors' });
        return;
      case 'source': {
        // Whatever the destination holds of it (an incoming domain left by the interrupted call) goes.
        const dest = this.o.driverFor(work.destination.uri);
        if ((await dest.state(vmId).catch(() => undefined)) !== undefined) {
          await dest.destroy(vmId).catch(() => undefined);
          await dest.undefine(vmId).catch(() => undefined);
        }
        await this.o.vms.execute(vmId, {
          type: 'FailMigration',
          migrationId: work.migrationId,
          reason: `interrupted (the executor restarted); the VM runs on ${state.location.hostId}`,
          cause: 'interrupted',
        });
        return;
      }
      case 'stopped-on-source':
        return this.guestStopped(vmId, state, work, 'interrupted (the executor restarted)');
      case 'paused-both':
        await this.o.vms.execute(vmId, {
          type: 'PauseMigration',
          migrationId: work.migrationId,
          detail: 'post-copy interrupted (the executor restarted); resume it',
        });
        return;
      case 'neither': {
        // Both hypervisors answered that they have no such domain (they lost it: a host reboot, a
        // simulated fleet restarted with its executor). Looked at once more after a pause, so a
        // moment between the two sides of a hand-over is never taken for a loss; then the migration
        // fails (the migration service releases the destination claim) and the VM stays recorded on
        // the source, where reconciliation, by policy, defines and starts it again.
        if (!(await this.stillNeither(vmId, state.location.hypervisorUri, work.destination.uri))) return;
        await this.o.vms.execute(vmId, {
          type: 'FailMigration',
          migrationId: work.migrationId,
          reason: `interrupted (the executor restarted) and the domain exists on neither ${state.location.hostId} nor ${work.destination.hostId}; the VM stays recorded on ${state.location.hostId}`,
          cause: 'interrupted',
        });
        return;
      }
      case 'unknown':
        // Never guessed: the sweep asks again (a host may be unreachable for a moment).
        throw new Error(`migration of ${vmId}: the domain runs nowhere we can see now; asking again later`);
      default: {
        const never: never = where;
        throw new Error(`unhandled ${String(never)}`);
      }
    }
  }

  /** A second look, after a pause, that neither host has the domain (false: something changed, or stopping). */
  private async stillNeither(vmId: string, sourceUri: string, destinationUri: string): Promise<boolean> {
    await new Promise((r) => setTimeout(r, this.o.confirmMillis ?? 1000));
    if (this.stopped) return false;
    return (await this.whereRuns(vmId, sourceUri, destinationUri)) === 'neither';
  }

  private async resumePaused(vmId: string): Promise<void> {
    const found = await this.work(vmId);
    if (!found || found.work.postCopyPaused === null) return;
    const { state, work } = found;
    await this.o
      .driverFor(state.location.hypervisorUri)
      .resumePostCopy(vmId, { destinationUri: work.destination.uri, ...dataPlaneOf(work.destination.uri), postCopy: true });
    await this.o.vms.execute(vmId, { type: 'CompleteMigration', migrationId: work.migrationId, confirmedBy: 'migrate-call' });
  }

  /**
   * The guest shut down during a live migration: the copy ended without a switch-over. Both facts are
   * recorded, the migration's end first (so the migration service hears of it) and then the stop (so
   * the record says what runs: nothing), never one without the other.
   */
  private async guestStopped(vmId: string, state: Migrating, work: MigrationWork, detail: string): Promise<void> {
    await this.o.vms.execute(vmId, {
      type: 'FailMigration',
      migrationId: work.migrationId,
      reason: `the guest shut down during the migration (${detail}); the VM is stopped on ${state.location.hostId}`,
      cause: 'error',
    });
    if (state.status === 'running') await this.o.vms.execute(vmId, { type: 'MarkStopped', how: 'already-stopped' });
  }
}
