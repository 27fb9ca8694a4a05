import { isMigrationError, type DomainSpec, type HypervisorDriver, type MigrateOptions, type MigrationProgress } from '@berth/hypervisor';
import type { Logger } from '@berth/observability';
import type { MigrationWork, VmState } from '../domain/vm/state.ts';
import type { Vms } from './vms.ts';

export interface MigratorOptions {
  readonly vms: Vms;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly logger: Logger;
  /** Progress is recorded (and published) at most once per this interval. */
  readonly progressIntervalMillis: number;
  /** Clock for the budgets (tests). */
  readonly now?: () => number;
  /** The VM's domain as recorded: what a cold move defines on the destination. */
  readonly specOf: (vmId: string, state: Migrating) => DomainSpec;
  /**
   * The hosts' drive pools are shared: a cold move copies no disks and keeps the source's volumes
   * (they are the destination's). Otherwise it copies them first (EXECUTOR_SHARED_STORAGE).
   */
  readonly sharedStorage: boolean;
  /** How long to wait before looking again when neither hypervisor has the domain (default 1 s). */
  readonly confirmMillis?: number;
}

/** A VM with a migration under way: running (live) or stopped (cold). */
export type Migrating = Extract<VmState, { status: 'running' | 'stopped' }>;

const GiB = 1024 ** 3;

/**
 * The data plane of a migration to `destinationUri`: the destination's own address (the host of a
 * `qemu+tcp://` / `qemu+ssh://` URI), or loopback for a local socket URI. The simulator needs none.
 */
export function dataPlaneOf(destinationUri: string): Pick<MigrateOptions, 'migrateUri' | 'listenAddress'> {
  if (destinationUri.startsWith('sim://') || destinationUri.startsWith('test')) return {};
  let host = '';
  try {
    host = new URL(destinationUri).hostname;
  } catch {
    host = '';
  }
  const address = host === '' || host === 'localhost' ? '127.0.0.1' : host;
  return { migrateUri: `tcp://${address}`, listenAddress: address };
}

/** The completion budget of a migration: per GiB of guest memory (KubeVirt: 150 s/GiB), at least one GiB's worth. */
export const completionBudgetMillis = (w: MigrationWork): number =>
  Math.max(1, Math.ceil(w.plan.memoryBytes / GiB)) * w.plan.completionBudgetSecondsPerGiB * 1000;

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

  constructor(private readonly o: MigratorOptions) {}

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
    if (work.cold) return this.coldMove(vmId, state, work);
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

  /** Where the domain runs now: on the source, the destination, both (paused post-copy) or neither. */
  private async whereRuns(
    vmId: string,
    sourceUri: string,
    destinationUri: string,
  ): Promise<'source' | 'destination' | 'paused-both' | 'stopped-on-source' | 'neither' | 'unknown'> {
    const [src, dst] = await Promise.all([
      this.o
        .driverFor(sourceUri)
        .state(vmId)
        .then(
          (s) => s ?? 'absent',
          () => 'unreachable',
        ),
      this.o
        .driverFor(destinationUri)
        .state(vmId)
        .then(
          (s) => s ?? 'absent',
          () => 'unreachable',
        ),
    ]);
    if (src === 'unreachable' || dst === 'unreachable') return 'unknown';
    const up = (s: string): boolean => s === 'running' || s === 'blocked';
    if (up(dst) && !up(src) && src !== 'paused') return 'destination';
    if (up(src) && !up(dst)) return 'source';
    if (src === 'paused' && (dst === 'paused' || up(dst))) return 'paused-both';
    if (src === 'absent' && dst === 'absent') return 'neither';
    // The guest shut down (or crashed) during the copy: nothing runs, the definition is still the source's.
    if ((src === 'shut-off' || src === 'crashed') && dst === 'absent') return 'stopped-on-source';
    return up(src) ? 'source' : 'unknown';
  }

  /**
   * After a restart the log says "migrating" and nobody knows how the call ended: wait for a job
   * still running on the source to finish (abort it when cancelled), then ask both hypervisors.
   */
  private async resolve(vmId: string): Promise<void> {
    const found = await this.work(vmId);
    if (!found || found.work.postCopyPaused !== null) return;
    const { state, work } = found;
    if (work.cold) return this.coldMove(vmId, state, work);
    const source = this.o.driverFor(state.location.hypervisorUri);
    const deadline = this.now() + completionBudgetMillis(work);
    for (;;) {
      const job = await source.migrationJob(vmId).catch(() => undefined);
      if (job === undefined) break;
      if (work.cancel !== null || this.now() > deadline) await source.abortMigration(vmId).catch(() => undefined);
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

  /** The stopped VM's disks to the destination; a driver that cannot copy fails the move, saying why. */
  private async copyDisks(vmId: string, state: Migrating, work: MigrationWork, source: HypervisorDriver, spec: DomainSpec): Promise<void> {
    if (spec.volumes.length === 0) return;
    if (!source.capabilities.volumeCopy) {
      throw new Error(
        `cold move of ${vmId}: ${state.location.hostId}'s hypervisor cannot copy disks and storage is not shared (EXECUTOR_SHARED_STORAGE=off)`,
      );
    }
    this.o.logger.info({ vmId, to: work.destination.hostId, volumes: spec.volumes.length }, 'cold move: copying the disks');
    await source.copyVolumes(spec, { destinationUri: work.destination.uri });
  }

  /**
   * A cold move of a stopped VM: without shared storage its disks are copied to the destination
   * first; then the definition is created there, then removed from the source (with its volumes,
   * unless they are shared), then recorded. Each step looks first or overwrites, so running it again
   * after a crash at any point finishes the move; at no point is the VM defined nowhere, and the
   * source's disks go only once the destination has its copy and its definition.
   */
  private async coldMove(vmId: string, state: Migrating, work: MigrationWork): Promise<void> {
    const source = this.o.driverFor(state.location.hypervisorUri);
    const dest = this.o.driverFor(work.destination.uri);
    const [src, dst] = await Promise.all([source.state(vmId), dest.state(vmId)]);
    const up = (s: string | undefined): boolean => s === 'running' || s === 'blocked' || s === 'paused';
    if (work.cancel !== null && dst === undefined) {
      await this.o.vms.execute(vmId, {
        type: 'FailMigration',
        migrationId: work.migrationId,
        reason: `${work.cancel}; cancelled, the VM stays on ${state.location.hostId}`,
        cause: 'cancelled',
      });
      return;
    }
    if (up(src) || up(dst)) {
      await this.o.vms.execute(vmId, {
        type: 'FailMigration',
        migrationId: work.migrationId,
        reason: `a cold move needs the VM stopped, and it runs on ${up(src) ? state.location.hostId : work.destination.hostId}`,
        cause: 'error',
      });
      return;
    }
    if (dst === undefined) {
      // Defined on neither host (both lost it): the log has the definition, so the move ends by
      // defining it on the destination, after a second look that it is really gone from both.
      if (src === undefined && !(await this.stillNeither(vmId, state.location.hypervisorUri, work.destination.uri))) {
        throw new Error(`cold move of ${vmId}: the hosts changed while looking; asking again later`);
      }
      const spec = this.o.specOf(vmId, state);
      // Copied while the source still has the domain (and so its disks); a copy cut short is done again.
      if (!this.o.sharedStorage && src !== undefined) await this.copyDisks(vmId, state, work, source, spec);
      await dest.define(spec);
    }
    if (src !== undefined) await source.undefine(vmId, { keepVolumes: this.o.sharedStorage });
    await this.o.vms.execute(vmId, { type: 'CompleteMigration', migrationId: work.migrationId, confirmedBy: 'migrate-call' });
  }
}
