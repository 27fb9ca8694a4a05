import { performance } from 'node:perf_hooks';
import { NotFoundError } from '@berth/errors';
import type { HostState } from '@berth/fit';
import type { MigrationCaps } from '../domain/caps/caps.ts';
import type { WaitingVm, MoveOutcome } from '../domain/evacuation/events.ts';
import type { EvacuationPlan, EvacuationTrigger, PlannedMove } from '../domain/evacuation/model.ts';
import { decideEvacuation, type EvacuationCommand } from '../domain/evacuation/decide.ts';
import { planEvacuation } from '../domain/evacuation/plan.ts';
import { isActive, type Evacuation } from '../domain/evacuation/state.ts';
import type { AdmissionGate } from './admission.ts';
import type { Clock, EvacuationLog, FleetReader, HostControl, MigrationStarter, StartedMove } from './evacuation-ports.ts';

export interface EvacuationDeps {
  readonly fleet: FleetReader;
  readonly hosts: HostControl;
  readonly migrations: MigrationStarter;
  readonly log: EvacuationLog;
  readonly gate: AdmissionGate;
  readonly clock: Clock;
  /** How long a blocked drain waits before it plans again (it also plans again whenever a move ends). */
  readonly retryMillis: number;
  readonly onError?: (hostId: string, error: unknown) => void;
  /** Told after each plan (PlanEvacuation and every pass of a drain): what it read and what it cost. */
  readonly onPlanned?: (figures: PlanFigures) => void;
}

export interface PlanFigures {
  readonly hostId: string;
  readonly vms: number;
  readonly moves: number;
  readonly deferred: number;
  /**
   * Reading the fleet view, the host's VMs and the drain's state: for a drain under way kept between
   * passes (the VMs refreshed from inventory's events); otherwise one ListVms and one read of the log.
   */
  readonly readMillis: number;
  /** planEvacuation itself (CPU only: no I/O). */
  readonly planMillis: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Runs drains: plans (PlanEvacuation has no side effects), records the evacuation in the log,
 * starts moves through the migration application within the caps (high priority first), records
 * why the rest waits and when it tries again, and ends the drain when the host holds no claim
 * (completed) or, after a cancel, when no move of it runs any more (the host's state put back).
 * Passes of one host never overlap; a pass asked for while one runs is done once after it.
 */
export class EvacuationRunner {
  private readonly passes = new Map<string, { running: Promise<void>; again: boolean }>();
  /** vmId -> host being drained, for the moves this process started. */
  private readonly moving = new Map<string, string>();
  /** Drains with moves waiting for a slot: a freed slot wakes them. */
  private readonly slotWaiters = new Set<string>();
  /** Waiting drains a freed slot woke: given a pass one at a time per free fleet slot (see `nextToWake`). */
  private wakeQueue: string[] = [];
  /** Per waiting drain, its VMs left to start after its last pass (movable now, not yet started). */
  private readonly left = new Map<string, number>();
  /** Passes of drains from the wake queue that have not yet taken their slots (or ended). */
  private waking = 0;
  /** Per drain, the wakes counted in `waking` for it: done when its pass has taken its slots (see wokeDone). */
  private readonly woken = new Map<string, number>();
  /** Starts not yet recorded: an end reported before its start is recorded waits for it. */
  private readonly starting = new Map<string, Promise<void>>();
  /**
   * Each drain's state as this process last read or wrote it: passes plan from it instead of reading
   * the log every time. This process is the only writer of the evacuation streams (one process owns
   * the slots, see AdmissionGate), and every write goes through `record`, which keeps it; after a
   * restart it starts empty and is read from the log.
   */
  private readonly states = new Map<string, Evacuation>();

  constructor(private readonly deps: EvacuationDeps) {}

  get caps(): MigrationCaps {
    return this.deps.gate.caps;
  }

  async plan(hostId: string, trigger: EvacuationTrigger = 'operator', maxMoves?: number): Promise<EvacuationPlan> {
    const readAt = performance.now();
    return this.planWith(hostId, await this.read(hostId), trigger, maxMoves, readAt);
  }

  /** Plans from the drain's state `current`: the VMs of a drained host are followed between passes. */
  private async planWith(
    hostId: string,
    current: Evacuation,
    trigger: EvacuationTrigger,
    maxMoves?: number,
    readAt = performance.now(),
    startNow = false,
  ): Promise<EvacuationPlan> {
    const active = isActive(current) ? current : undefined;
    const [view, vms] = await Promise.all([this.deps.fleet.view(), this.deps.fleet.evacuees(hostId, { follow: active !== undefined })]);
    if (!view.get(hostId)) throw new NotFoundError('host', hostId);
    const migrating = new Set(this.deps.gate.list().map((m) => m.vmId));
    // A VM this drain has moved off already: its claim here may outlive the move in the snapshot (and
    // in what the reader kept of it) for a moment; it is never moved again, only waited for.
    for (const h of active?.history ?? []) if (h.outcome === 'completed') migrating.add(h.vmId);
    const planAt = performance.now();
    const plan = planEvacuation({
      hostId,
      view,
      trigger: active?.trigger ?? trigger,
      caps: this.caps,
      vms: vms.map((v) => (migrating.has(v.spec.vmId) || active?.running.has(v.spec.vmId) ? { ...v, status: 'migrating' } : v)),
      excludedFor: (vmId) => active?.failedDestinations.get(vmId) ?? [],
      ...(maxMoves !== undefined && { maxMoves }),
      // A pass plans the moves that start now: to destinations with an inbound slot free, where there is one.
      ...(startNow && { inboundFree: (h: string) => this.caps.inboundPerHost - this.deps.gate.inboundOf(h) }),
    });
    const done = performance.now();
    this.deps.onPlanned?.({
      hostId,
      vms: vms.length,
      moves: plan.moves.length,
      deferred: plan.deferred.length,
      readMillis: planAt - readAt,
      planMillis: done - planAt,
    });
    return plan;
  }

  /**
   * Starts (or joins) the drain of a host; `hostStateKnown` when inventory already put it in
   * maintenance (its HostStateChanged, which also says what the host was before: `wasState`).
   */
  async start(
    hostId: string,
    trigger: EvacuationTrigger,
    commandId: string,
    hostStateKnown = false,
    wasState?: HostState,
  ): Promise<Evacuation> {
    const plan = await this.plan(hostId, trigger);
    const host = (await this.deps.fleet.view()).get(hostId);
    if (!host) throw new NotFoundError('host', hostId);
    const state = host.capacity.state;
    // Put back on cancel: what the host was before maintenance was asked for.
    const before = wasState ?? state;
    const previousState = before === 'maintenance-preparing' || before === 'maintenance' ? 'enabled' : before;
    const e = await this.record(hostId, commandId, {
      type: 'StartEvacuation',
      hostId,
      previousState,
      plan,
      at: iso(this.deps.clock.now()),
    });
    if (!hostStateKnown && state !== 'maintenance-preparing' && state !== 'maintenance') {
      await this.deps.hosts.setHostState(hostId, 'maintenance', `evacuation ${isActive(e) ? e.evacuationId : ''} (${trigger})`);
    }
    this.kick(hostId);
    return e;
  }

  /** `hostStateSet`: the operator took the host out of maintenance to this state, which it keeps. */
  async cancel(hostId: string, abortRunning: boolean, reason: string, commandId: string, hostStateSet?: HostState): Promise<Evacuation> {
    const e = await this.record(hostId, commandId, {
      type: 'CancelEvacuation',
      abortRunning,
      reason,
      at: iso(this.deps.clock.now()),
      ...(hostStateSet && { hostStateSet }),
    });
    if (e.status === 'cancelling' && abortRunning) {
      await Promise.all(
        [...e.running.values()].map((m) =>
          this.deps.migrations.abort(m.migrationId, `evacuation cancelled: ${reason}`).catch(() => undefined),
        ),
      );
    }
    this.kick(hostId);
    return e;
  }

  /**
   * An operator took the host out of maintenance (set it to `to`) while its drain runs: the drain is
   * cancelled, moves under way finish (as CancelEvacuation does by default) and nothing new starts;
   * the host keeps the state the operator set. A host without a drain under way is left alone.
   */
  async leftMaintenance(hostId: string, to: HostState, commandId: string): Promise<Evacuation | undefined> {
    const e = await this.read(hostId);
    if (e.status !== 'running') return undefined;
    return this.cancel(hostId, false, `the host left maintenance (set to ${to})`, commandId, to);
  }

  get(hostId: string): Promise<Evacuation> {
    return this.deps.log.read(hostId);
  }

  /**
   * Something the drain of this host depends on changed (one of its VMs in inventory, the host's
   * snapshot): a pass soon, so a VM that became movable moves and an emptied host completes without
   * waiting for the retry timer. Hosts without a drain under way here are left alone.
   */
  changed(hostId: string): void {
    const e = this.states.get(hostId);
    if (e !== undefined && isActive(e)) this.kick(hostId);
  }

  /** The drain's state: as this process last had it, else from the log. */
  private async read(hostId: string): Promise<Evacuation> {
    const known = this.states.get(hostId);
    if (known !== undefined) return known;
    const e = await this.deps.log.read(hostId);
    // A write that finished meanwhile knows better.
    if (!this.states.has(hostId)) this.states.set(hostId, e);
    return this.states.get(hostId)!;
  }

  /**
   * Every write to a drain's log: decided on the state kept and appended at its version (one round
   * trip; the log reads the stream only when it moved on meanwhile), and the state after it is kept for
   * the next pass.
   */
  private async record(hostId: string, commandId: string, command: EvacuationCommand): Promise<Evacuation> {
    let e: Evacuation;
    try {
      e = await this.deps.log.execute(hostId, commandId, command, this.states.get(hostId));
    } catch (err) {
      // It may have committed all the same: the next pass reads the log.
      this.states.delete(hostId);
      throw err;
    }
    const known = this.states.get(hostId);
    if (known === undefined || known.version <= e.version) this.states.set(hostId, e);
    if (!isActive(e)) this.deps.fleet.unfollow?.(hostId);
    return e;
  }

  /**
   * Told by the migration side when a move ends (any outcome); frees its slot and moves the drain on.
   * A completed move's slot goes to a waiting drain now, not once this end is recorded. A drain's move
   * that did not complete keeps its slot until its end is recorded: until then its drain counts the VM
   * as moving and would give the slot to a VM after it in priority order, and the VM would lose its turn.
   */
  async migrationEnded(vmId: string, migrationId: string, outcome: MoveOutcome, reason: string): Promise<void> {
    // A move that did not complete may have failed on what was kept of the VM: read it again.
    if (outcome !== 'completed') this.deps.fleet.invalidate?.(vmId);
    const ours = this.moving.has(vmId) || this.starting.has(vmId);
    if (outcome === 'completed' || !ours) this.giveBack(vmId);
    await this.starting.get(vmId);
    const hostId = this.moving.get(vmId);
    if (hostId === undefined) {
      this.giveBack(vmId);
      return;
    }
    await this.recordMoveEnded(hostId, vmId, migrationId, outcome, reason);
    this.kick(hostId);
  }

  /** The VM's slot back to the gate (nothing when already given back), and the drains waiting for one woken. */
  private giveBack(vmId: string): void {
    if (!this.deps.gate.holds(vmId)) return;
    this.deps.gate.release(vmId);
    this.slotFreed();
  }

  /**
   * A slot came back: the drains waiting for one get a pass in turn, as many at once as fleet slots
   * are free, the next one when a pass ends without having taken the slot (its moves may be held by
   * a per-host cap). Each waiting drain gets at most one pass per freed slot. Kicking every waiting
   * drain at once made them all plan before any of them started the move: the slot stayed empty for
   * as many plans as drains were waiting.
   */
  slotFreed(): void {
    for (const h of this.slotWaiters) if (!this.wakeQueue.includes(h)) this.wakeQueue.push(h);
    this.pump();
  }

  private pump(): void {
    while (this.wakeQueue.length > 0 && this.waking < this.caps.fleet - this.deps.gate.running) {
      const h = this.nextToWake();
      if (!this.slotWaiters.has(h)) continue;
      this.waking++;
      this.woken.set(h, (this.woken.get(h) ?? 0) + 1);
      this.kick(h);
      void this.passes.get(h)?.running.then(() => this.wokeDone(h));
    }
  }

  /**
   * The woken drain's pass has taken what slots it could (or ended): the next waiting drain may be woken
   * for a slot still free, without waiting for this pass to record its starts.
   */
  private wokeDone(hostId: string): void {
    const n = this.woken.get(hostId);
    if (n === undefined) return;
    this.woken.delete(hostId);
    this.waking -= n;
    this.pump();
  }

  /**
   * Takes the waiting drain a freed slot goes to first out of the wake queue: one whose host has an
   * outbound slot free (counted from the gate, so a move that just ended no longer counts: its pass can
   * take the slot, where one at its host's cap would pass the turn on only after planning), then one with
   * no pass running (a running pass is still recording its starts; the drain's next pass waits for it),
   * then the one with the most VMs left to start (the drains end together, instead of one left alone at
   * its host's outbound cap at the end), then the fewest moves out; then the order the drains began to wait.
   */
  private nextToWake(): string {
    const out = this.caps.outboundPerHost;
    const key = (h: string): number[] => {
      const moving = this.deps.gate.outboundOf(h);
      return [moving < out ? 0 : 1, this.passes.has(h) ? 1 : 0, -(this.left.get(h) ?? 0), moving];
    };
    const before = (a: number[], b: number[]): boolean => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
      return false;
    };
    let best = 0;
    let bestKey = key(this.wakeQueue[0]!);
    for (let i = 1; i < this.wakeQueue.length; i++) {
      const k = key(this.wakeQueue[i]!);
      if (before(k, bestKey)) {
        best = i;
        bestKey = k;
      }
    }
    return this.wakeQueue.splice(best, 1)[0]!;
  }

  /** Plans again every drain under way (the service calls this every `retryMillis`, and at start). */
  async resumeAll(): Promise<void> {
    for (const hostId of await this.deps.log.active()) this.kick(hostId);
  }

  /** Resolves when no pass of the host is running or queued (tests and the benchmark). */
  async idle(hostId: string): Promise<void> {
    for (let p = this.passes.get(hostId); p; p = this.passes.get(hostId)) await p.running;
  }

  kick(hostId: string): void {
    const p = this.passes.get(hostId);
    if (p) {
      p.again = true;
      return;
    }
    const entry = { running: Promise.resolve(), again: false };
    this.passes.set(hostId, entry);
    entry.running = (async () => {
      do {
        entry.again = false;
        try {
          await this.pass(hostId);
        } catch (err) {
          this.deps.onError?.(hostId, err);
        }
      } while (entry.again);
      this.passes.delete(hostId);
    })();
  }

  private async pass(hostId: string): Promise<void> {
    const e = await this.read(hostId);
    if (!isActive(e)) {
      this.slotWaiters.delete(hostId);
      this.left.delete(hostId);
      this.deps.fleet.unfollow?.(hostId);
      return;
    }
    const now = this.deps.clock.now();
    for (const [vmId] of e.running) this.moving.set(vmId, hostId);
    if (e.status === 'cancelling') {
      if (e.running.size > 0) return;
      await this.record(hostId, `${e.evacuationId}:cancelled`, { type: 'FinishCancel', at: iso(now) });
      if (e.hostStateSet === undefined)
        await this.deps.hosts.setHostState(hostId, e.previousState, `evacuation ${e.evacuationId} cancelled`);
      return;
    }
    // Only as many moves as could start now are planned (the rest is deferred): a pass stays cheap. The
    // host's moves out are the gate's: a move that ended holds no slot, though the drain's record keeps it
    // until its end is appended (a failed one's slot is held until then: see migrationEnded).
    const caps = this.caps;
    const slots = Math.max(0, Math.min(caps.outboundPerHost - this.deps.gate.outboundOf(hostId), caps.fleet - this.deps.gate.running));
    const plan = await this.planWith(hostId, e, e.trigger, slots, performance.now(), true);
    if (
      plan.moves.length === 0 &&
      plan.blockers.length === 0 &&
      plan.inFlight.length === 0 &&
      plan.deferred.length === 0 &&
      e.running.size === 0
    ) {
      await this.record(hostId, `${e.evacuationId}:completed`, { type: 'CompleteEvacuation', at: iso(now) });
      return;
    }
    const queue = plan.moves.filter((m) => !e.running.has(m.vmId)).map((m) => ({ ...m, sourceHostId: hostId }));
    const round = this.deps.gate.acquireMany(queue);
    // The slots this pass could take are taken: a drain woken for it lets the next one be woken.
    this.wokeDone(hostId);
    const waiting: WaitingVm[] = plan.blockers.map((b) => ({ vmId: b.vmId, kind: b.kind, reason: b.reason, remedies: b.remedies }));
    this.left.set(hostId, round.waiting.length + plan.deferred.length);
    if (round.waiting.length > 0 || plan.deferred.length > 0) {
      this.slotWaiters.add(hostId);
      const c = this.caps;
      waiting.push({
        vmId: '',
        kind: 'cap',
        reason: `moves wait for a migration slot (at most ${c.fleet} in the fleet, ${c.outboundPerHost} out of and ${c.inboundPerHost} into each host)`,
        remedies: [],
      });
    }
    // One after the other, in priority order: the log (and the hypervisors) see high priority first.
    for (const m of round.admitted) {
      const p = this.startMove(e.evacuationId, hostId, m, (e.failedDestinations.get(m.vmId)?.length ?? 0) + 1, waiting).finally(() =>
        this.starting.delete(m.vmId),
      );
      this.starting.set(m.vmId, p);
      await p;
    }
    const recordWaiting: EvacuationCommand = {
      type: 'RecordWaiting',
      waiting,
      nextRetryAt: iso(now + this.deps.retryMillis),
      at: iso(now),
    };
    // Most passes change nothing of what waits: the decider says so here, without a round trip to the log.
    if (decideEvacuation(recordWaiting, this.states.get(hostId) ?? e).length === 0) return;
    await this.record(hostId, `${e.evacuationId}:waiting:${e.version}`, recordWaiting);
  }

  private async startMove(evacuationId: string, hostId: string, m: PlannedMove, attempt: number, waiting: WaitingVm[]): Promise<void> {
    const commandId = `${evacuationId}:${m.vmId}:${attempt}`;
    let started: StartedMove;
    try {
      this.moving.set(m.vmId, hostId);
      started = await this.deps.migrations.start({
        commandId,
        vmId: m.vmId,
        sourceHostId: hostId,
        destinationHostId: m.destinationHostId,
        kind: m.kind,
        reason: `evacuation ${evacuationId}: ${m.reason}`,
      });
    } catch (err) {
      this.moving.delete(m.vmId);
      this.deps.gate.release(m.vmId);
      waiting.push({
        vmId: m.vmId,
        kind: 'no-destination',
        reason: `the move to ${m.destinationHostId} could not start: ${err instanceof Error ? err.message : String(err)}`,
        remedies: ['retried automatically'],
      });
      return;
    }
    const { migrationId, ended } = started;
    await this.record(hostId, commandId, {
      type: 'RecordMoveStarted',
      vmId: m.vmId,
      migrationId,
      destinationHostId: m.destinationHostId,
      kind: m.kind,
      priority: m.priority,
      at: iso(this.deps.clock.now()),
    });
    if (ended) {
      // Its end will not be reported again: record it now, or the drain would wait on it forever
      // and its slot would never come back.
      await this.recordMoveEnded(hostId, m.vmId, migrationId, ended.outcome, ended.reason);
    }
  }

  /**
   * The drain stops following the move and records how it ended (once per migration: the command id).
   * The VM's slot comes back at once when the move completed, else once its end is recorded (see
   * migrationEnded), and in any case when the record fails.
   */
  private async recordMoveEnded(hostId: string, vmId: string, migrationId: string, outcome: MoveOutcome, reason: string): Promise<void> {
    if (outcome === 'completed') this.giveBack(vmId);
    this.moving.delete(vmId);
    try {
      await this.record(hostId, `${migrationId}:ended`, {
        type: 'RecordMoveEnded',
        vmId,
        migrationId,
        outcome,
        reason,
        at: iso(this.deps.clock.now()),
      });
    } finally {
      this.giveBack(vmId);
    }
  }
}
