import { randomUUID } from 'node:crypto';
import { currentVersion, eventCatalog, telemetry, telemetryInput } from '@berth/contracts';
import type { NewEvent, StoredEvent } from '@berth/event-store';
import type { Logger } from '@berth/observability';
import {
  decidePressure,
  evolvePressure,
  initialPressureState,
  type HostPressureState,
  type PressureEvent,
  type PressureThresholds,
} from '../domain/pressure/pressure.ts';
import type { DecisionRecorded } from './decisions.ts';
import type { SampleHistory } from './history.ts';
import { buildInput } from './input.ts';
import { runInterval, type IntervalInput, type IntervalResult } from './interval.ts';
import type { Policies } from './policies.ts';
import { roundSummary, type HostOutcome } from './round.ts';
import type { ControlPort, HostDirectory, PolicyEngine, VmDirectory } from './ports.ts';

export interface DecisionSink {
  append(streamId: string, events: readonly NewEvent[]): Promise<readonly StoredEvent[]>;
  noteUnchanged(e: { hostId: string; at: string; policy: string; error?: string; superseded?: true }): void;
}

/** An interval evaluated, waiting to be recorded and sent in its host's turn. */
interface Evaluated {
  readonly hostId: string;
  readonly started: number;
  readonly now: number;
  readonly at: string;
  readonly policy: { readonly scope: string; readonly version: number; readonly digest: string };
  readonly policyRef: string;
  readonly input: IntervalInput;
  readonly result: IntervalResult;
  readonly resolve: (o: HostOutcome) => void;
  readonly reject: (e: unknown) => void;
}

export interface EvaluatorMetrics {
  interval(hostId: string, outcome: 'changed' | 'unchanged' | 'failed' | 'superseded', millis: number): void;
  controls(kinds: readonly telemetry.Control[], failed: number): void;
  clamps(n: number): void;
}

export interface EvaluatorOptions<S> {
  readonly history: SampleHistory;
  readonly policies: Policies<S>;
  readonly engine: PolicyEngine<S>;
  readonly vms: VmDirectory;
  readonly hosts: HostDirectory;
  readonly log: DecisionSink;
  readonly controls: ControlPort;
  readonly thresholds: PressureThresholds;
  readonly historyLength: number;
  /** A decision's input is recorded in full every this many decisions, else as a delta (default 10). */
  readonly keyframeEvery?: number;
  /** Samples older than this are stale: the host is not evaluated (its executor stopped reporting). */
  readonly staleAfterMillis: number;
  readonly metrics?: EvaluatorMetrics;
  readonly clock?: () => number;
  readonly logger: Logger;
}

const DECISION_VERSION = currentVersion(eventCatalog, telemetry.TELEMETRY_SERVICE, 'DecisionRecorded');

/**
 * The policy loop: per host, every interval, the latest history goes through the host's policy
 * (runInterval: MOM policy, SLA clamp, minimum step); a change is recorded before it is sent, a
 * quiet interval leaves a compact record. Vapor power-offs and restarts are decided here too, on
 * the same inputs, and recorded on the host's stream with the decision.
 */
export type { HostOutcome } from './round.ts';

export class Evaluator<S> {
  private readonly pressure = new Map<string, HostPressureState>();
  private readonly calmSince = new Map<string, number>();
  private readonly ioApplied = new Map<string, Record<string, string>>();
  /** Hosts whose decision is being recorded or sent, each with the interval waiting for its turn. */
  private readonly lanes = new Map<string, { waiting: Evaluated | undefined }>();
  /** Per host, the last decision recorded (what the next one's input is a delta against). */
  private readonly recorded = new Map<string, { readonly id: string; readonly depth: number; readonly input: IntervalInput }>();
  private timer: NodeJS.Timeout | undefined;
  /** Rounds whose decisions are still being recorded or sent. */
  private readonly rounds = new Set<Promise<void>>();
  /** A round's evaluation loop is running (a tick while it runs is skipped). */
  private looping = false;
  private readonly clock: () => number;
  /** Per host, when its last interval was evaluated (for `spacingMillis`). */
  private readonly lastEvaluated = new Map<string, number>();
  /**
   * While the loop runs on its own timer (`start`), a host is evaluated at most once within half its
   * interval: a round that starts or reaches a host late (a busy process) and the next one on time
   * would otherwise evaluate that host twice within one interval; its turn then comes in the next
   * round. Callers of `evaluateAll`/`evaluateHost` without the timer (a replay, tests calling rounds
   * back to back) choose their own pace: no spacing.
   */
  private spacingMillis: number | undefined;

  constructor(private readonly o: EvaluatorOptions<S>) {
    this.clock = o.clock ?? Date.now;
  }

  /** Start-up: power-offs still in force, from the log. */
  restorePressure(events: readonly { streamId: string; event: PressureEvent; at: string }[]): void {
    for (const { streamId, event, at } of events) {
      const hostId = streamId.replace(/^host-/, '');
      this.pressure.set(hostId, evolvePressure(this.pressure.get(hostId) ?? initialPressureState(), event, at));
    }
  }

  poweredOff(hostId: string): string[] {
    return [...(this.pressure.get(hostId)?.poweredOff.keys() ?? [])];
  }

  /**
   * A round every interval (fixed rate). A round evaluates every host with fresh samples and does not
   * wait for the decisions of the previous one: a host whose last decision is still being recorded or
   * sent is evaluated all the same and its decision waits for that one (`enqueue`), so one slow host,
   * or a slow log, never delays the others' intervals. A tick that comes while the previous round is
   * still evaluating is skipped. A host is evaluated at most once per half interval (`spacingMillis`).
   */
  start(intervalMillis: number): void {
    this.spacingMillis = intervalMillis / 2;
    this.timer = setInterval(() => {
      if (this.looping) {
        this.o.logger.debug('policy round skipped: the previous round is still evaluating');
        return;
      }
      const round = this.evaluateAll().then(
        () => undefined,
        (e: unknown) => this.o.logger.error({ err: e }, 'evaluation round failed'),
      );
      this.rounds.add(round);
      void round.finally(() => this.rounds.delete(round));
    }, intervalMillis);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    this.spacingMillis = undefined;
    if (t) clearInterval(t);
    await Promise.all(this.rounds);
  }

  /** One round over every host with fresh samples; yields to the event loop between hosts. */
  async evaluateAll(): Promise<number> {
    const started = performance.now();
    const pending: Promise<HostOutcome | undefined>[] = [];
    let n = 0;
    let inFlight = 0;
    this.looping = true;
    try {
      for (const hostId of this.o.history.hostIds()) {
        // Evaluated now; its decision waits for the previous one's if that is still in flight.
        if (this.lanes.has(hostId)) inFlight++;
        pending.push(this.evaluateHost(hostId).catch((e: unknown) => void this.o.logger.warn({ err: e, hostId }, 'host interval failed')));
        n++;
        if (n % 20 === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.looping = false;
    }
    const evaluatedMillis = performance.now() - started;
    const outcomes = await Promise.all(pending);
    // What a round did, for whoever tunes a large fleet (LOG_LEVEL=debug).
    this.o.logger.debug(roundSummary(outcomes, inFlight, evaluatedMillis, performance.now() - started), 'policy round');
    return n;
  }

  /**
   * One host's interval: evaluated now, against the latest samples; what it decided is then recorded and
   * sent in the host's turn (see `enqueue`). Resolves when the decision has settled (or was superseded).
   */
  async evaluateHost(hostId: string): Promise<HostOutcome> {
    const started = performance.now();
    const now = this.clock();
    const h = this.o.history.get(hostId);
    if (!h || now - h.lastAtMillis > this.o.staleAfterMillis) return { outcome: 'skipped' };
    const last = this.lastEvaluated.get(hostId);
    if (this.spacingMillis !== undefined && last !== undefined && now - last < this.spacingMillis) return { outcome: 'skipped' };
    const pool = this.o.hosts.resourcePool(hostId);
    const mom = buildInput(this.o.history, hostId, {
      vms: this.o.vms,
      historyLength: this.o.historyLength,
      ...(pool !== undefined ? { resourcePool: pool } : {}),
    });
    if (!mom) return { outcome: 'skipped' };
    const policy = this.o.policies.resolve(hostId, pool);
    // I/O limits as last sent: a decision still waiting for its turn may send more, which this one
    // then repeats (an I/O tune sent twice is the same tune).
    const input: IntervalInput = { mom, capabilities: h.capabilities, ioTuneApplied: { ...(this.ioApplied.get(hostId) ?? {}) } };
    const r = runInterval(this.o.engine, policy.compiled, input);
    this.lastEvaluated.set(hostId, now);
    const at = new Date(now).toISOString();
    const policyRef = `${policy.set.scope}@${policy.set.version}`;
    // A failed interval takes its turn too: its record stays in order with the host's decisions, and it
    // replaces an older decision still waiting (no controller acts on a failed interval's behalf, as MOM).
    return new Promise<HostOutcome>((resolve, reject) =>
      this.enqueue({ hostId, started, now, at, policy: policy.set, policyRef, input, result: r, resolve, reject }),
    );
  }

  /**
   * A host's decisions are recorded and sent one at a time, in the order their intervals were evaluated
   * (controls for a host are applied in order; each delta's base is the decision recorded before it).
   * An interval evaluated while the host's previous decision is still being recorded or sent waits
   * for it; at most one waits per host: a newer interval replaces it, and the replaced one is recorded
   * as a quiet entry marked `superseded` (evaluated, nothing recorded as a decision, nothing sent): the
   * newer one read later samples, so sending the older one first would only be undone.
   */
  private enqueue(e: Evaluated): void {
    const lane = this.lanes.get(e.hostId);
    if (!lane) {
      this.lanes.set(e.hostId, { waiting: undefined });
      void this.drain(e);
      return;
    }
    const replaced = lane.waiting;
    lane.waiting = e;
    if (replaced) {
      this.o.log.noteUnchanged({ hostId: replaced.hostId, at: replaced.at, policy: replaced.policyRef, superseded: true });
      this.o.metrics?.interval(replaced.hostId, 'superseded', performance.now() - replaced.started);
      replaced.resolve({ outcome: 'superseded', queued: true });
    }
  }

  private async drain(first: Evaluated): Promise<void> {
    const lane = this.lanes.get(first.hostId)!;
    let queued = false;
    for (let e: Evaluated | undefined = first; e;) {
      try {
        const outcome = await this.settle(e);
        e.resolve(queued ? { ...outcome, queued } : outcome);
      } catch (err) {
        e.reject(err);
      }
      e = lane.waiting;
      lane.waiting = undefined;
      queued = true;
    }
    this.lanes.delete(first.hostId);
  }

  /** What an evaluated interval leads to, in its host's turn: vapor power, then a decision recorded and sent, or a quiet entry. */
  private async settle(e: Evaluated): Promise<HostOutcome> {
    const { hostId, at, now, input, result: r } = e;
    if (!r.ok) {
      this.o.log.noteUnchanged({ hostId, at, policy: e.policyRef, error: r.error ?? 'failed' });
      this.o.metrics?.interval(hostId, 'failed', performance.now() - e.started);
      return { outcome: 'failed', error: r.error ?? 'failed' };
    }
    const decisionId = randomUUID();
    const thresholds = { ...this.o.thresholds, ...r.thresholds };
    // Decided in the host's turn: the power-offs and restarts of the decisions before are known by now.
    const pressureEvents = this.assessPressure(hostId, decisionId, input.mom, r.balloonReliefKib, now, thresholds);
    if (r.controls.length === 0 && pressureEvents.length === 0) {
      this.o.log.noteUnchanged({ hostId, at, policy: e.policyRef });
      this.o.metrics?.interval(hostId, 'unchanged', performance.now() - e.started);
      return { outcome: 'unchanged' };
    }
    const last = this.recorded.get(hostId);
    const recordedInput = telemetryInput.encodeDecisionInput(
      input,
      last && last.depth + 1 < (this.o.keyframeEvery ?? 10) ? last : undefined,
    );
    const record: DecisionRecorded = {
      hostId,
      at,
      policy: { scope: e.policy.scope, version: e.policy.version, digest: e.policy.digest },
      input: recordedInput,
      decided: r.decided,
      excludedGuests: r.excludedGuests,
      clamps: r.clamps,
      controls: r.controls,
      unsupported: r.unsupported,
    };
    // Recorded before anything is sent: a control the log does not hold never reaches a host.
    const appending = performance.now();
    await this.o.log.append(`host-${hostId}`, [
      { id: decisionId, type: 'DecisionRecorded', schemaVersion: DECISION_VERSION, data: record },
      ...pressureEvents,
    ]);
    this.recorded.set(hostId, { id: decisionId, depth: recordedInput.depth, input });
    let state = this.pressure.get(hostId) ?? initialPressureState();
    for (const p of pressureEvents) state = evolvePressure(state, p, at);
    this.pressure.set(hostId, state);
    const power: telemetry.Control[] = pressureEvents.map((p) =>
      p.type === 'VmPoweredOffForPressure'
        ? { kind: 'power', vmId: p.data.vmId, action: 'off', reason: p.data.reason, commandId: `${decisionId}:off:${p.data.vmId}` }
        : { kind: 'power', vmId: p.data.vmId, action: 'on', reason: p.data.reason, commandId: `${decisionId}:on:${p.data.vmId}` },
    );
    if (pressureEvents.some((p) => p.type === 'VmRestartedAfterPressure')) this.calmSince.set(hostId, now);
    const controls = [...r.controls, ...power];
    const sending = performance.now();
    const reply = await this.o.controls.send({ v: 1, hostId, decisionId, controls });
    const millis = { append: sending - appending, send: performance.now() - sending };
    const failed = reply.results.filter((x) => !x.ok);
    controls.forEach((c, i) => {
      if (c.kind === 'ioTune' && reply.results[i]?.ok) {
        const { kind: _k, ...rest } = c;
        this.ioApplied.set(hostId, {
          ...(this.ioApplied.get(hostId) ?? {}),
          [`${c.vmId}/${c.device}`]: JSON.stringify({ kind: 'ioTune', ...rest }),
        });
      }
    });
    if (failed.length > 0) this.o.logger.warn({ hostId, decisionId, failed }, 'some controls were not applied');
    this.o.metrics?.controls(controls, failed.length);
    this.o.metrics?.clamps(r.clamps.length);
    this.o.metrics?.interval(hostId, 'changed', performance.now() - e.started);
    return { outcome: 'changed', decisionId, pressure: pressureEvents, controlReply: reply, millis };
  }

  /**
   * The policy's thresholds when it defines them (so MOM's notion of critical and Berth's agree), else
   * the configured ones. Memory the host has swapped out counts against what is free.
   */
  private assessPressure(
    hostId: string,
    decisionId: string,
    mom: IntervalInput['mom'],
    reliefKib: number,
    now: number,
    thresholds: PressureThresholds,
  ): PressureEvent[] {
    const host = mom.host.at(-1) ?? {};
    const total = host['mem_available'];
    const free = host['mem_free'] === undefined ? undefined : host['mem_free'] - (host['swap_usage'] ?? 0);
    if (total === undefined || free === undefined || total <= 0) return [];
    const calm = free / total >= thresholds.calm;
    if (!calm) this.calmSince.delete(hostId);
    else if (!this.calmSince.has(hostId)) this.calmSince.set(hostId, now);
    const state = this.pressure.get(hostId) ?? initialPressureState();
    const vapor = mom.guests
      .filter((g) => g.props['sla_tier'] === 'vapor')
      .map((g) => ({ vmId: g.name, priority: Number(g.props['priority'] ?? 0) }));
    return decidePressure(
      {
        hostId,
        decisionId,
        memAvailableKib: total,
        memFreeKib: free,
        balloonReliefKib: reliefKib,
        vapor,
        calmSinceMillis: this.calmSince.get(hostId),
        nowMillis: now,
        thresholds,
      },
      state,
    );
  }
}
