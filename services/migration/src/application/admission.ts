import {
  admitMany,
  type Admission,
  type AdmissionRound,
  type InFlightMigration,
  type MigrationCaps,
  type MigrationRequest,
  admit,
} from '../domain/caps/caps.ts';

/**
 * The one place every migration of this process takes its slot: evacuations, the balancer and
 * manual migrations alike. Admission and reservation happen in one synchronous step (no await in
 * between), so concurrent callers can never both take the last slot; a slot is held until
 * `release` (the migration completed, failed or was aborted, or its start failed).
 */
export class AdmissionGate {
  private readonly inFlight = new Map<string, InFlightMigration>();
  private maxObserved = 0;
  private readonly freed: (() => void)[] = [];

  constructor(readonly caps: MigrationCaps) {}

  /** Migrations already running when the process starts (from the migration log). */
  seed(migrations: Iterable<InFlightMigration>): void {
    for (const m of migrations) this.inFlight.set(m.vmId, m);
    this.observe();
  }

  tryAcquire(request: MigrationRequest): Admission {
    const a = admit(this.caps, this.inFlight.values(), request);
    if (a.admitted) {
      this.inFlight.set(request.vmId, request);
      this.observe();
    }
    return a;
  }

  /** Admits a queue in its order (high priority first) and reserves the slots of those admitted. */
  acquireMany<R extends MigrationRequest>(queue: readonly R[]): AdmissionRound<R> {
    const round = admitMany(this.caps, this.inFlight.values(), queue);
    for (const r of round.admitted) this.inFlight.set(r.vmId, r);
    this.observe();
    return round;
  }

  /**
   * The runner's hook: the VM's slot, taken now if it holds none (a migration not started by a drain);
   * refused with the cap that holds it back.
   */
  hold(request: MigrationRequest): Admission {
    return this.inFlight.has(request.vmId) ? { admitted: true } : this.tryAcquire(request);
  }

  holds(vmId: string): boolean {
    return this.inFlight.has(vmId);
  }

  release(vmId: string): void {
    if (!this.inFlight.delete(vmId)) return;
    for (const f of this.freed) f();
  }

  /** Called after each slot given back (the runner's queued migrations try again at once). */
  onFreed(listener: () => void): void {
    this.freed.push(listener);
  }

  get running(): number {
    return this.inFlight.size;
  }

  /** Slots held by migrations into this host (those whose destination is known). */
  inboundOf(hostId: string): number {
    let n = 0;
    for (const m of this.inFlight.values()) if (m.destinationHostId === hostId) n++;
    return n;
  }

  /** Slots held by migrations out of this host: given back the moment each ends (a drain's record of a move lags). */
  outboundOf(hostId: string): number {
    let n = 0;
    for (const m of this.inFlight.values()) if (m.sourceHostId === hostId) n++;
    return n;
  }

  /** The most migrations ever held at once (benchmarks compare it with the caps). */
  get maxConcurrentObserved(): number {
    return this.maxObserved;
  }

  list(): InFlightMigration[] {
    return [...this.inFlight.values()];
  }

  private observe(): void {
    if (this.inFlight.size > this.maxObserved) this.maxObserved = this.inFlight.size;
  }
}
