import { modelV1 } from '@berth/contracts';
import { decodeClaim } from '@berth/model-codec';
import type { Logger } from '@berth/observability';
import type { Admission } from '../domain/caps/caps.ts';
import { excludedHosts, type Migration } from '../domain/migration/state.ts';
import type { MigrationCommands } from './migrations.ts';
import type { Clock, InventoryPort, SchedulerPort } from './ports.ts';

export interface RunnerDeps {
  readonly migrations: MigrationCommands;
  readonly inventory: InventoryPort;
  readonly scheduler: SchedulerPort;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Base of the backoff between attempts (doubled for each later one). */
  readonly retryBackoffMillis: number;
  /**
   * The concurrency caps (the service's AdmissionGate): a requested migration takes its slot before
   * its destination is chosen and waits (the sweep asks again) while none is free. Absent: no caps.
   */
  readonly slots?: SlotHolder;
  /**
   * How long after its claim the executor may start an attempt (DestinationClaimed.startBy): below the
   * executor silence after which the watchdog may give the attempt up (the service passes half of
   * MIGRATION_EXECUTOR_SILENCE), so a start held up by the network is refused, never carried out behind
   * the watchdog's back. Absent: not stated (the executor's own EXECUTOR_MIGRATION_START_WINDOW alone).
   */
  readonly startWindowMillis?: number;
}

/**
 * Takes a migration slot for a VM (admitted when held, also when it already was: an evacuation took
 * it), or says which cap holds it back.
 */
export interface SlotHolder {
  hold(request: { vmId: string; sourceHostId: string; destinationHostId?: string }): Admission;
}

/** Choices in a row refused because the host moved on (generation) before an attempt counts as failed. */
const STALE_CHOICES = 5;

/**
 * The process manager of migrations: takes the next step of a migration from its log, one step at
 * a time per migration, and records what came of it. Every step is idempotent (command ids derived
 * from the migration, attempt and step), so after a crash the sweep simply runs it again: a claim
 * taken before the crash is found by its command id, a release of a claim already released changes
 * nothing. Steps that wait for the executor (copying) or the operator (post-copy paused) do nothing.
 */
export class MigrationRunner {
  private readonly busy = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** The newest state each migration was recorded at (told with the kick): the next step starts from it, not a read of the log. */
  private readonly latest = new Map<string, Migration>();
  /** Migrations that found no free slot, in the order they began to wait: kicked when a slot comes back. */
  private readonly queued = new Set<string>();
  private stopped = false;

  constructor(private readonly d: RunnerDeps) {}

  /**
   * Runs the migration's pending steps soon (coalesced per migration). `state`: the migration as an
   * append just left it (every append of this process tells the runner so); a step taken from it reads
   * nothing first. Each step is still decided by the aggregate on what the log holds when it appends.
   */
  kick(migrationId: string, state?: Migration): void {
    if (this.stopped) return;
    const known = this.latest.get(migrationId);
    if (state !== undefined && (known === undefined || known.version < state.version)) this.latest.set(migrationId, state);
    if (this.busy.has(migrationId)) {
      this.again.add(migrationId);
      return;
    }
    const run = this.advance(migrationId)
      .catch((e: unknown) => this.d.logger.warn({ err: e, migrationId }, 'migration step failed; the sweep retries it'))
      .finally(() => {
        this.busy.delete(migrationId);
        if (this.again.delete(migrationId)) this.kick(migrationId);
      });
    this.busy.set(migrationId, run);
  }

  /** A slot came back (any migration ended): the queued migrations try again now, oldest first, not at the next sweep. */
  slotFreed(): void {
    for (const id of this.queued) this.kick(id);
  }

  isBusy(migrationId: string): boolean {
    return this.busy.has(migrationId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.busy.values()]);
  }

  private async advance(migrationId: string): Promise<void> {
    for (let steps = 0; steps < 20 && !this.stopped; steps++) {
      const told = this.latest.get(migrationId);
      this.latest.delete(migrationId);
      const m = told ?? (await this.d.migrations.load(migrationId));
      if (!(await this.step(migrationId, m))) return;
    }
  }

  /** One step; true when something was recorded (so the next step may follow at once). */
  private async step(id: string, m: Migration): Promise<boolean> {
    const { migrations, inventory, clock } = this.d;
    if (m.status !== 'requested' && m.status !== 'queued' && m.status !== 'retry-waiting') this.queued.delete(id);
    switch (m.status) {
      case 'requested':
      case 'queued':
      case 'retry-waiting': {
        if (m.status === 'retry-waiting' && clock.now().toISOString() < m.notBefore) return false;
        const named = m.core.requestedDestination;
        const slot = { vmId: m.core.vmId, sourceHostId: m.core.sourceHostId, ...(named !== '' && { destinationHostId: named }) };
        const a = this.d.slots?.hold(slot) ?? { admitted: true };
        if (!a.admitted) {
          // No slot: it waits (a slot freed or the sweep asks again), recorded once per reason.
          this.queued.add(id);
          if (m.status === 'queued' && m.cap === a.cap && m.reason === a.reason) return false;
          await migrations.executeFrom(m, id, { type: 'RecordQueued', attempt: m.attempt, cap: a.cap, reason: a.reason });
          return false;
        }
        this.queued.delete(id);
        return this.choose(id, m, 0);
      }
      case 'destination-chosen': {
        const { attempt, destination } = m;
        for (let stale = 0; ; stale++) {
          const current = stale === 0 ? m : await migrations.load(id);
          if (current.status !== 'destination-chosen' || current.attempt !== attempt) return true;
          const dest = current.destination;
          const outcome = await inventory.beginMigration({
            commandId: `${id}:claim:${attempt}:${dest.hostId}:${dest.generation}`,
            vmId: m.core.vmId,
            migrationId: id,
            hostId: dest.hostId,
            expectedGeneration: dest.generation,
            claim: dest.claim,
            automatic: m.core.trigger === 'balancer',
          });
          if (outcome.kind === 'claimed') {
            await migrations.executeFrom(current, id, {
              type: 'RecordDestinationClaimed',
              attempt,
              hypervisorUri: outcome.hypervisorUri,
              generation: outcome.generation,
              // The executor builds the destination's domain (pinning, NUMA cells, volumes) from it.
              claim: decodeClaim(modelV1.Claim.fromJSON(dest.claim)),
              ...(this.d.startWindowMillis !== undefined && {
                startBy: new Date(clock.now().getTime() + this.d.startWindowMillis).toISOString(),
              }),
            });
            return true;
          }
          if (outcome.kind === 'refused' || stale >= STALE_CHOICES) {
            await migrations.executeFrom(current, id, {
              type: 'RecordClaimRefused',
              attempt,
              reason: `inventory refused the claim on ${destination.hostId}: ${outcome.detail}`,
            });
            return true;
          }
          // The host moved on since the score: choose again with fresh data, same attempt.
          if (!(await this.choose(id, current, stale + 1))) return true;
        }
      }
      case 'switched-over':
        await inventory.completeMigration({ commandId: `${id}:complete:${m.attempt}`, vmId: m.core.vmId, migrationId: id });
        await migrations.executeFrom(m, id, { type: 'RecordSourceReleased', attempt: m.attempt });
        return true;
      case 'releasing-destination':
        await inventory.abortMigration({ commandId: `${id}:release:${m.attempt}`, vmId: m.core.vmId, migrationId: id, reason: m.reason });
        await migrations.executeFrom(m, id, {
          type: 'RecordDestinationReleased',
          attempt: m.attempt,
          now: clock.now().toISOString(),
          backoffMillis: this.d.retryBackoffMillis,
        });
        return true;
      case 'aborting':
        // Cancelled before inventory confirmed the claim: nothing was copied; give the claim back (if taken).
        if (m.destination.hypervisorUri === undefined) {
          await migrations.executeFrom(m, id, {
            type: 'RecordCopyFailed',
            attempt: m.attempt,
            reason: `cancelled before the copy started: ${m.reason}`,
          });
          return true;
        }
        return false;
      case 'destination-claimed':
      case 'migrating':
      case 'postcopy-paused':
      case 'completed':
      case 'aborted':
      case 'failed':
      case 'absent':
        return false;
      default: {
        const never: never = m;
        throw new Error(`unhandled migration state ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Asks the scheduler for the destination of this attempt: the named host on the first attempt of
   * a manual migration, else the best host with the source and every failed destination excluded.
   */
  private async choose(id: string, m: Extract<Migration, { attempt: number }>, round: number): Promise<boolean> {
    const { migrations, inventory, scheduler, clock } = this.d;
    const vm = await inventory.getVm(m.core.vmId);
    const attempt = m.attempt;
    const expected = m.core.kind === 'cold' ? 'stopped' : 'running';
    if (vm.status !== expected || vm.hostId !== m.core.sourceHostId) {
      await migrations.executeFrom(m, id, {
        type: 'RecordNoDestination',
        attempt,
        reason: `VM is ${vm.status} on ${vm.hostId || 'no host'}, no longer ${expected} on ${m.core.sourceHostId}`,
      });
      return true;
    }
    const excluded = excludedHosts(m);
    const named = attempt === 1 && m.core.requestedDestination !== '' ? m.core.requestedDestination : '';
    const answer = await scheduler.score(vm, {
      excludedHosts: excluded,
      limit: named ? 1000 : 1,
      ...(named ? { explainHosts: [named] } : {}),
    });
    const pick = named ? answer.hosts.find((h) => h.hostId === named) : answer.hosts[0];
    if (pick === undefined) {
      const reasons = named ? answer.rejections.get(named) : undefined;
      const reason = named
        ? `host ${named} cannot take ${vm.name}: ${reasons?.join('; ') ?? 'not among the hosts that fit'}`
        : answer.summary || `no host can take ${vm.name}`;
      await migrations.executeFrom(m, id, { type: 'RecordNoDestination', attempt, reason });
      return true;
    }
    const r = await migrations.executeFrom(m, id, {
      type: 'RecordDestinationChosen',
      attempt,
      hostId: pick.hostId,
      generation: pick.generation,
      claim: pick.claim,
      explanation: named
        ? `${pick.hostName} as requested (score ${pick.score.toFixed(4)})`
        : `${answer.summary}${round > 0 ? ` (choice ${round + 1})` : ''}`,
      now: clock.now().toISOString(),
    });
    return r.events.length > 0;
  }
}
