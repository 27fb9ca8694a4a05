import { evolveStored, handleCommand, type AnyKysely, type PostgresEventStore } from '@berth/event-store';
import { ConcurrencyError, IllegalStateError, NotFoundError, Violations } from '@berth/errors';
import { eventCatalog, migrationEvents, storedEventEvolution } from '@berth/contracts';
import type { Logger } from '@berth/observability';
import { sql } from 'kysely';
import {
  balance,
  defaultPolicy,
  pressureOf,
  pressurePassDue,
  validatePolicy,
  type BalancedVm,
  type BalancerPolicy,
  type BalancerRun,
  type BalancerTrigger,
  type LoadSample,
} from '../domain/balancer/index.ts';
import {
  decideBalancer,
  evolveBalancer,
  initialBalancerRecord,
  repeatsLastRun,
  type BalancerCommand,
  type BalancerEvent,
  type BalancerRecord,
  type RecordedMove,
  type RecordedRun,
} from '../domain/balancer/log.ts';
import { allocationLoad } from '../domain/evacuation/plan.ts';
import type { FleetReader } from './evacuation-ports.ts';
import type { MigrationCommands } from './migrations.ts';

/** Stored events folded as the balancer stream's own events (checked by type; see `evolveStored`). */
const evolveBalancerStored = evolveStored<BalancerRecord, BalancerEvent>(
  { BalancerPolicySet: true, BalancerRunRecorded: true, BalancerRunRepeated: true },
  evolveBalancer,
);

const PREFIX = 'balancer-';
const POOL = /^[A-Za-z0-9_.-]{1,128}$/;
/** Samples kept per host for the threshold window (one per tick). */
const MAX_SAMPLES = 600;
/** Repeats of an unchanged run are written to the log at most this often (and whenever the outcome changes). */
const REPEATS_FLUSH_MILLIS = 3_600_000;
/** A run's id: `<pool>:<stream position of its BalancerRunRecorded>`. */
const RUN_ID = /^([A-Za-z0-9_.-]{1,128}):([1-9][0-9]{0,15})$/;
const upcast = storedEventEvolution(eventCatalog, migrationEvents.MIGRATION_SERVICE).upcast;
const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** A host's measured load from telemetry: memory used/total and CPU busy, fractions; `at` in ms. */
export interface MeasuredUsage {
  readonly at: number;
  readonly memory: number;
  readonly cpu?: number;
}

/** Telemetry's `berth-host-usage` (adapters/nats/host-usage.ts). */
export interface UsageReader {
  usage(hostId: string): MeasuredUsage | undefined;
}

export interface BalancerDeps {
  readonly store: PostgresEventStore;
  readonly db: AnyKysely;
  readonly fleet: FleetReader;
  readonly migrations: Pick<MigrationCommands, 'migrate'>;
  readonly clock: { now(): number };
  readonly logger: Logger;
  /** Measured usage; without it (or for a host whose usage is stale) load is allocation. */
  readonly usage?: UsageReader;
  /** A usage record older than this is stale (default 30 s: three of telemetry's 5 s samples, with slack). */
  readonly usageFreshMillis?: number;
}

/** What a run started: the run (as the dry run shows it) and each move's migration (undefined: refused). */
export interface StartedRun {
  readonly run: BalancerRun;
  readonly migrationIds: ReadonlyMap<string, string>;
  /** The run as recorded, and its id (`<pool>:<position>`; the id of the run it repeats when it was counted, not recorded). */
  readonly recorded: RecordedRun;
  readonly runId: string;
}

/** A recorded run as `berth balance explain` shows it. */
export interface ExplainedRun {
  readonly runId: string;
  readonly pool: string;
  readonly run: RecordedRun;
  /** Runs since that recorded the same and moved nothing (counted, not recorded), the last one's time. */
  readonly repeats: number;
  readonly lastRepeatedAt?: string;
  /** The pool now (only for the latest run: no run id asked): what ran since without a record of its own. */
  readonly now?: PoolNow;
}

/** One pass of this service over a pool: a run (recorded, or counted as a repeat of the last one), or a pressure check of a pool whose mode is off. */
export interface PoolPass {
  readonly at: number;
  readonly trigger: BalancerTrigger | 'check';
  readonly moves: number;
  /** The run it recorded, or repeated (counted): its position. Absent for a check. */
  readonly runPosition?: number;
  readonly counted: boolean;
  readonly underPressure: readonly string[];
}

/** The pool as the balancer sees it now (docs/evacuation-and-balancer.md, "What explain says of now"). */
export interface PoolNow {
  readonly mode: BalancerPolicy['mode'];
  readonly policySetAt?: string;
  readonly lastPass?: PoolPass;
  /** The last pass is the run explained (it recorded it). */
  readonly lastPassIsRun: boolean;
  readonly nextPassAt?: number;
  readonly summary: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * One line on the pool now, under the latest recorded run: its mode (since when), this service's last
 * pass (a pressure check while off, or a run that moved nothing and was counted as a repeat of the run
 * shown), and when the next periodic pass is due.
 */
export function poolNowSummary(
  policy: BalancerPolicy,
  policySetAt: string | undefined,
  pass: PoolPass | undefined,
  runPosition: number,
  nextPassAt: number | undefined,
): string {
  const since = policySetAt ? ` since ${policySetAt}` : ' (the default)';
  const pressure =
    policy.pressureThreshold > 0
      ? `pressure passes at ${Math.round(policy.pressureThreshold * 100)}% measured memory`
      : 'pressure passes off';
  const head =
    policy.mode === 'off'
      ? `balancing is off for pool ${policy.pool}${since}: no periodic pass, ${pressure}`
      : `${policy.mode} for pool ${policy.pool}${since}: a pass every ${policy.intervalSeconds} s, ${pressure}`;
  let last: string;
  if (pass === undefined) last = 'no pass by this service since it started';
  else if (pass.trigger === 'check')
    last = `last checked ${iso(pass.at)}: ${
      pass.underPressure.length > 0 ? `under pressure: ${pass.underPressure.join(', ')}` : 'no host under pressure'
    }, nothing run, nothing recorded`;
  else {
    const what = pass.moves > 0 ? `started ${pass.moves} move(s)` : 'moved nothing';
    const rec =
      pass.runPosition !== runPosition
        ? 'recorded as another run'
        : pass.counted
          ? 'the same as the run shown (counted in its repeats, not recorded again)'
          : 'the run shown';
    last = `last pass ${iso(pass.at)} (${pass.trigger}): ${what}, ${rec}`;
  }
  const next =
    policy.mode === 'off' ? '' : nextPassAt === undefined ? '; next pass at the next tick' : `; next pass due ${iso(nextPassAt)}`;
  return `${head}; ${last}${next}`;
}

/**
 * A run as the log records it (and the dry run shows it): loads rounded to 0.01%, each moved
 * candidate with its migration, a move whose start was refused turned into a rejection saying why.
 */
const latest = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

export function recordedRun(
  run: BalancerRun,
  migrationIds: ReadonlyMap<string, string>,
  refused: ReadonlyMap<string, string>,
): RecordedRun {
  const pair = (p: { from: number; to: number } | undefined) => p && { from: round4(p.from), to: round4(p.to) };
  const moves: RecordedMove[] = run.moves.flatMap((m) => {
    const migrationId = migrationIds.get(m.vmId);
    return migrationId === undefined
      ? []
      : [{ vmId: m.vmId, from: m.from, to: m.to, migrationId, improvement: round4(m.improvement), reason: m.reason }];
  });
  const refusedText = [...refused].map(([vmId, why]) => `${vmId} (${why})`).join(', ');
  return {
    at: new Date(run.at).toISOString(),
    trigger: run.trigger,
    summary: refused.size > 0 ? `${run.summary}; start refused: ${refusedText}` : run.summary,
    moves,
    policy: run.policy,
    source: run.source,
    hosts: run.hosts.map((h) => ({
      hostId: h.hostId,
      name: h.name,
      cpu: round4(h.load.cpu),
      memory: round4(h.load.memory),
      bottleneck: round4(h.bottleneck),
      samplesInWindow: h.samplesInWindow,
      ...(h.windowMin !== undefined && { windowMin: round4(h.windowMin) }),
      ...(h.windowMax !== undefined && { windowMax: round4(h.windowMax) }),
      measured: h.measured,
      role: h.role,
      note: h.note,
      predicted: round4(h.predicted ?? h.bottleneck),
    })),
    candidates: run.candidates.map((c) => {
      const migrationId = c.verdict === 'moved' ? migrationIds.get(c.vmId) : undefined;
      const why = c.verdict === 'moved' ? refused.get(c.vmId) : undefined;
      const before = pair(c.before);
      const after = pair(c.after);
      return {
        vmId: c.vmId,
        vmName: c.vmName,
        from: c.from,
        ...(c.to !== undefined && { to: c.to }),
        ...(before && { before }),
        ...(after && { after }),
        ...(c.improvement !== undefined && { improvement: round4(c.improvement) }),
        verdict: why !== undefined ? 'rejected' : c.verdict,
        reason: why !== undefined ? `qualified (${c.reason}), but MigrateVm refused it: ${why}` : c.reason,
        ...(migrationId !== undefined && { migrationId }),
      };
    }),
  };
}

/**
 * The balancer in the service: per resource pool a policy set through the API (recorded in the
 * log), a dry run that changes nothing, and `tick()` — called periodically — which samples every
 * host's load (the threshold window) and, for each pool whose policy is not off and whose interval
 * has passed, runs the pure `balance()` and starts its moves through MigrateVm (trigger balancer: the
 * caps, the modes and inventory's checks apply). The VMs it moved are recorded with the run, so the
 * cooldown survives restarts. Load is allocation (claims); see docs/evacuation-and-balancer.md.
 */
export class BalancerService {
  /** Allocation samples per host (the threshold window when a host has no measured usage). */
  private readonly samples = new Map<string, LoadSample[]>();
  /** Measured samples per host, taken at each tick from telemetry's latest fresh usage. */
  private readonly measured = new Map<string, LoadSample[]>();
  /** Hosts under pressure (the hysteresis state of `pressureOf`). */
  private readonly pressured = new Set<string>();
  private readonly lastRun = new Map<string, number>();
  /** Each pool's record as this process last left it (this process is the balancer's only writer). */
  private readonly records = new Map<string, BalancerRecord>();
  /** Per pool: runs that repeated the last recorded one since it (or its last BalancerRunRepeated), not yet in the log. */
  private readonly pending = new Map<string, { count: number; lastAt: number; flushedAt: number }>();
  private readonly lastPressurePass = new Map<string, number>();
  /** Per pool: this service's last pass (a run, or the pressure check of a pool whose mode is off), for explain's "now". */
  private readonly lastPass = new Map<string, PoolPass>();
  /**
   * When the balancer last started moving each VM, from the migration log (MigrationRequested with
   * trigger balancer), read once per process: a run's record is appended after its moves start, so a
   * crash between the two would otherwise lose those VMs' cooldown (the record alone would not know
   * they moved). Moves this process starts are in the records it appends.
   */
  private startedBefore?: Promise<ReadonlyMap<string, number>>;
  /** Runs (periodic, pressure, run-now) one at a time: two could otherwise pick the same VM. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private ticking = false;

  constructor(private readonly d: BalancerDeps) {}

  /** Hosts under memory pressure now (for tests and the explanation). */
  underPressure(): ReadonlySet<string> {
    return this.pressured;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.exclusive.then(f, f);
    this.exclusive = next.catch(() => undefined);
    return next;
  }

  /** The pool's record: read from the log once, then kept as this process's appends leave it. */
  async record(pool: string): Promise<BalancerRecord> {
    const known = this.records.get(pool);
    if (known) return known;
    const { events } = await this.d.store.readStream(PREFIX + pool);
    const r = events.reduce(evolveBalancerStored, initialBalancerRecord());
    this.records.set(pool, r);
    return r;
  }

  /**
   * A recorded run (`runId` = `<pool>:<position>`), or the pool's latest when none is named, with
   * the runs that repeated it since (those in the log and those this process counted since).
   */
  async explain(pool: string, runId: string): Promise<ExplainedRun> {
    const v = new Violations();
    const m = runId === '' ? null : RUN_ID.exec(runId);
    v.check(runId === '' || m !== null, 'runId', `must be <pool>:<number> as balancer runs are named, got '${runId}'`);
    v.check(POOL.test(pool), 'resourcePool', `must be 1-128 of [A-Za-z0-9_.-], got '${pool}'`);
    v.throwIfAny();
    const p = m ? m[1]! : pool;
    const record = await this.record(p);
    const position = m ? Number(m[2]) : record.lastRun?.position;
    if (position === undefined) throw new NotFoundError('balancer run', `latest of pool ${p} (no run recorded yet)`);
    const id = `${p}:${position}`;
    const rows = await sql<{ stream_position: string; type: string; schema_version: number; data: unknown }>`
      SELECT stream_position, type, schema_version, data FROM events
      WHERE stream_id = ${PREFIX + p}
        AND (stream_position = ${position} OR (type = 'BalancerRunRepeated' AND (data->>'runPosition')::bigint = ${position}))
      ORDER BY stream_position`.execute(this.d.db);
    const first = rows.rows[0];
    if (!first || Number(first.stream_position) !== position || first.type !== 'BalancerRunRecorded')
      throw new NotFoundError('balancer run', id);
    const run = upcast({ type: first.type, schemaVersion: first.schema_version, data: first.data }).data as RecordedRun;
    const repeatedRows = rows.rows.filter((r) => r.type === 'BalancerRunRepeated');
    const last = repeatedRows.at(-1)?.data as { count: number; lastAt: string } | undefined;
    const mine = record.lastRun?.position === position ? this.pending.get(p) : undefined;
    const extra = mine && mine.count > 0 ? mine : undefined;
    const lastAt = extra ? new Date(extra.lastAt).toISOString() : last?.lastAt;
    return {
      runId: id,
      pool: p,
      run,
      repeats: (last?.count ?? 0) + (extra?.count ?? 0),
      ...(lastAt !== undefined && { lastRepeatedAt: lastAt }),
      ...(!m && { now: this.poolNow(p, record, position) }),
    };
  }

  /** The pool now, for explain of its latest run (from memory and the record: nothing read, nothing written). */
  private poolNow(pool: string, record: BalancerRecord, runPosition: number): PoolNow {
    const policy = record.policy ?? defaultPolicy(pool);
    const pass = this.lastPass.get(pool);
    const last = this.lastRun.get(pool);
    const nextPassAt = policy.mode === 'off' || last === undefined ? undefined : last + policy.intervalSeconds * 1000;
    return {
      mode: policy.mode,
      ...(record.policySetAt !== undefined && { policySetAt: record.policySetAt }),
      ...(pass && { lastPass: pass }),
      lastPassIsRun: pass !== undefined && pass.runPosition === runPosition && !pass.counted,
      ...(nextPassAt !== undefined && { nextPassAt }),
      summary: poolNowSummary(policy, record.policySetAt, pass, runPosition, nextPassAt),
    };
  }

  async getPolicy(pool: string): Promise<BalancerPolicy> {
    checkPool(pool);
    return (await this.record(pool)).policy ?? defaultPolicy(pool);
  }

  async setPolicy(policy: BalancerPolicy, commandId: string): Promise<BalancerPolicy> {
    const v = new Violations();
    v.check(POOL.test(policy.pool), 'policy.resourcePool', `must be 1-128 of [A-Za-z0-9_.-], got '${policy.pool}'`);
    for (const f of validatePolicy(policy)) if (f.field !== 'policy.pool') v.check(false, f.field, f.reason);
    v.throwIfAny();
    const r = await this.execute(policy.pool, commandId, { type: 'SetPolicy', policy, at: new Date(this.d.clock.now()).toISOString() });
    return r.policy ?? policy;
  }

  /**
   * What a run of the pool's policy would move now, and why nothing else (changes nothing): a
   * pressure pass if a host of the pool is under pressure, else the periodic run.
   */
  async dryRun(pool: string): Promise<BalancerRun> {
    checkPool(pool);
    const record = await this.record(pool);
    const policy = record.policy ?? defaultPolicy(pool);
    const view = await this.d.fleet.view();
    const underPressure = view.all().some((s) => poolOf(s.capacity.resourcePool) === pool && this.pressured.has(s.capacity.hostId));
    return this.evaluate(policy, record, underPressure && policy.pressureThreshold > 0 ? 'pressure' : 'interval');
  }

  /**
   * A run now, at an operator's request (`BalancerRunNow`, `berth balance --now`): the pool's policy
   * as a periodic run would apply it (a pressure pass if a host is under pressure), without waiting
   * for the interval; the next periodic run is an interval later. A pool whose balancing is off (and
   * has no host under pressure) is refused: FAILED_PRECONDITION.
   */
  async runNow(pool: string, commandId: string): Promise<StartedRun> {
    checkPool(pool);
    return this.serial(async () => {
      const record = await this.record(pool);
      const policy = record.policy ?? defaultPolicy(pool);
      const now = this.d.clock.now();
      this.sample(await this.d.fleet.view(), now);
      const pressure = policy.pressureThreshold > 0 && this.pressuredIn(pool, await this.d.fleet.view()) > 0;
      if (policy.mode === 'off' && !pressure)
        throw new IllegalStateError(
          `balancing is off for pool ${pool} (no host under pressure): set a mode with berth balance policy --mode`,
        );
      this.lastRun.set(pool, now);
      if (pressure) this.lastPressurePass.set(pool, now);
      return this.runPool(policy, record, now, pressure ? 'pressure' : 'manual', `run-now:${commandId}`);
    });
  }

  /**
   * One period: sample the loads (allocation, and telemetry's measured usage where fresh), update
   * each host's pressure state; per pool, a pressure pass at once when a host is under pressure (at
   * most one per interval), else the periodic run when its interval has passed.
   */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.serial(async () => {
        const now = this.d.clock.now();
        const view = await this.d.fleet.view();
        this.sample(view, now);
        for (const pool of await this.pools()) {
          const record = await this.record(pool);
          const policy = record.policy;
          if (!policy) continue;
          const pressured = this.updatePressure(pool, policy, view, now);
          if (policy.pressureThreshold > 0 && pressurePassDue(pressured, this.lastPressurePass.get(pool), now, policy)) {
            this.lastPressurePass.set(pool, now);
            this.lastRun.set(pool, now);
            await this.runPool(policy, record, now, 'pressure', `pressure:${now}`);
            continue;
          }
          if (policy.mode === 'off') {
            // Pressure looked at, nothing to run: kept in memory for explain, never written (the log does not grow while off).
            this.lastPass.set(pool, {
              at: now,
              trigger: 'check',
              moves: 0,
              counted: false,
              underPressure: this.pressuredHosts(pool, view),
            });
            continue;
          }
          if (now - (this.lastRun.get(pool) ?? 0) < policy.intervalSeconds * 1000) continue;
          this.lastRun.set(pool, now);
          await this.runPool(policy, record, now, 'interval', String(now));
        }
      });
    } finally {
      this.ticking = false;
    }
  }

  private pressuredIn(pool: string, view: Awaited<ReturnType<FleetReader['view']>>): number {
    return this.pressuredHosts(pool, view).length;
  }

  private pressuredHosts(pool: string, view: Awaited<ReturnType<FleetReader['view']>>): string[] {
    return view
      .all()
      .filter((s) => poolOf(s.capacity.resourcePool) === pool && this.pressured.has(s.capacity.hostId))
      .map((s) => s.capacity.hostId);
  }

  /** The hysteresis step for each host of the pool; transitions are logged. Returns how many are under pressure. */
  private updatePressure(pool: string, policy: BalancerPolicy, view: Awaited<ReturnType<FleetReader['view']>>, now: number): number {
    let n = 0;
    for (const s of view.all()) {
      const hostId = s.capacity.hostId;
      if (poolOf(s.capacity.resourcePool) !== pool) continue;
      const was = this.pressured.has(hostId);
      const r = pressureOf(was, this.fresh(hostId, now) ? (this.measured.get(hostId) ?? []) : [], now, policy);
      if (r.pressured !== was)
        this.d.logger.info({ hostId, pool, pressured: r.pressured, reason: r.reason }, 'balancer: host pressure changed');
      if (r.pressured) {
        this.pressured.add(hostId);
        n++;
      } else this.pressured.delete(hostId);
    }
    return n;
  }

  private fresh(hostId: string, now: number): boolean {
    const u = this.d.usage?.usage(hostId);
    return u !== undefined && now - u.at <= (this.d.usageFreshMillis ?? 30_000);
  }

  private async runPool(
    policy: BalancerPolicy,
    record: BalancerRecord,
    now: number,
    trigger: BalancerTrigger,
    runId: string,
  ): Promise<StartedRun> {
    const run = await this.evaluate(policy, record, trigger);
    const migrationIds = new Map<string, string>();
    const refused = new Map<string, string>();
    for (const m of run.moves) {
      try {
        const started = await this.d.migrations.migrate({
          commandId: `balancer:${policy.pool}:${runId}:${m.vmId}`,
          vmId: m.vmId,
          destination: m.to,
          policy: {},
          trigger: 'balancer',
          reason: `balancer (${trigger === 'pressure' ? 'pressure' : policy.mode}, pool ${policy.pool}): ${m.reason}`,
        });
        migrationIds.set(m.vmId, started.core.migrationId);
      } catch (e) {
        refused.set(m.vmId, e instanceof Error ? e.message : String(e));
        this.d.logger.warn({ err: e, vmId: m.vmId, pool: policy.pool }, 'balancer: the move was refused');
      }
    }
    const recorded = recordedRun(run, migrationIds, refused);
    const pool = policy.pool;
    const current = await this.record(pool);
    const pending = this.pending.get(pool);
    if (repeatsLastRun(current, recorded)) {
      // The same as the last recorded run: counted; the count reaches the log at most once an hour.
      const p = pending ?? { count: 0, lastAt: now, flushedAt: now };
      p.count += 1;
      p.lastAt = now;
      this.pending.set(pool, p);
      if (now - p.flushedAt >= REPEATS_FLUSH_MILLIS) {
        await this.append(pool, `balancer:${pool}:${runId}:repeats`, {
          type: 'RecordRepeats',
          pending: { count: p.count, lastAt: new Date(p.lastAt).toISOString() },
        });
        this.pending.set(pool, { count: 0, lastAt: now, flushedAt: now });
      }
      this.lastPass.set(pool, this.pass(run, now, trigger, migrationIds.size, current.lastRun!.position, true));
      return { run, migrationIds, recorded, runId: `${pool}:${current.lastRun!.position}` };
    }
    const after = await this.append(pool, `balancer:${pool}:${runId}`, {
      type: 'RecordRun',
      run: recorded,
      ...(pending && pending.count > 0 && { pending: { count: pending.count, lastAt: new Date(pending.lastAt).toISOString() } }),
    });
    this.pending.set(pool, { count: 0, lastAt: now, flushedAt: now });
    const position = after.lastRun?.position ?? after.version;
    this.lastPass.set(pool, this.pass(run, now, trigger, migrationIds.size, position, false));
    return { run, migrationIds, recorded, runId: `${pool}:${position}` };
  }

  private pass(run: BalancerRun, at: number, trigger: BalancerTrigger, moves: number, runPosition: number, counted: boolean): PoolPass {
    const underPressure = run.hosts.filter((h) => this.pressured.has(h.hostId)).map((h) => h.hostId);
    return { at, trigger, moves, runPosition, counted, underPressure };
  }

  private async evaluate(policy: BalancerPolicy, record: BalancerRecord, trigger: BalancerTrigger): Promise<BalancerRun> {
    const view = await this.d.fleet.view();
    // Hosts registered without a pool are in pool `default`.
    const hosts = view
      .all()
      .filter((s) => poolOf(s.capacity.resourcePool) === policy.pool)
      .map((s) => (s.capacity.resourcePool === policy.pool ? s : { ...s, capacity: { ...s.capacity, resourcePool: policy.pool } }));
    const vms: BalancedVm[] = [];
    const logged = await (this.startedBefore ??= this.balancerMovesInLog().catch((e: unknown) => {
      this.startedBefore = undefined; // read again at the next run, not failed for good
      throw e;
    }));
    for (const h of hosts) {
      for (const e of await this.d.fleet.evacuees(h.capacity.hostId)) {
        const last = latest(record.lastMovedAt.get(e.spec.vmId), logged.get(e.spec.vmId));
        vms.push({
          spec: e.spec,
          hostId: h.capacity.hostId,
          running: e.status === 'running',
          migrating: e.status === 'migrating',
          ...(last !== undefined && { lastMovedAt: last }),
        });
      }
    }
    // Measured where telemetry's usage is fresh (per host; a host without it counts by allocation).
    const now = this.d.clock.now();
    const measured = new Set(hosts.filter((h) => this.fresh(h.capacity.hostId, now)).map((h) => h.capacity.hostId));
    return balance({
      policy,
      now,
      hosts,
      vms,
      source: measured.size > 0 ? 'measured' : 'allocation',
      history: (hostId) => (measured.has(hostId) ? this.measured.get(hostId) : this.samples.get(hostId)) ?? [],
      movesThisInterval: 0,
      trigger,
      pressured: this.pressured,
    });
  }

  /** Per VM, when the balancer last asked to move it (the migration log's MigrationRequested, trigger balancer). */
  private async balancerMovesInLog(): Promise<ReadonlyMap<string, number>> {
    const rows = await sql<{ vm_id: string; at: Date }>`
      SELECT data->>'vmId' AS vm_id, max(occurred_at) AS at FROM events
      WHERE type = 'MigrationRequested' AND data->>'trigger' = 'balancer'
      GROUP BY 1`.execute(this.d.db);
    return new Map(rows.rows.map((r) => [r.vm_id, new Date(r.at).getTime()]));
  }

  private sample(view: Awaited<ReturnType<FleetReader['view']>>, at: number): void {
    const push = (m: Map<string, LoadSample[]>, hostId: string, s: LoadSample): void => {
      const list = m.get(hostId) ?? [];
      if (list.at(-1)?.at === at) list.pop();
      list.push(s);
      if (list.length > MAX_SAMPLES) list.shift();
      m.set(hostId, list);
    };
    for (const s of view.all()) {
      const hostId = s.capacity.hostId;
      const alloc = allocationLoad(s);
      push(this.samples, hostId, { ...alloc, at });
      const u = this.d.usage?.usage(hostId);
      if (u && this.fresh(hostId, at)) push(this.measured, hostId, { cpu: u.cpu ?? alloc.cpu, memory: u.memory, at });
      // A gap in the measurements starts the window again.
      else this.measured.delete(hostId);
    }
  }

  private async pools(): Promise<string[]> {
    const rows = await sql<{ stream_id: string }>`SELECT stream_id FROM streams WHERE stream_id LIKE ${PREFIX + '%'}`.execute(this.d.db);
    return rows.rows.map((r) => r.stream_id.slice(PREFIX.length));
  }

  /**
   * Appends a run (or its repeats) at the version this process knows, without reading the stream
   * first (the record is kept in memory); a conflict (another writer) reads it again and retries.
   */
  private async append(pool: string, commandId: string, command: BalancerCommand): Promise<BalancerRecord> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.record(pool);
      const events = decideBalancer(command, r);
      if (events.length === 0) return r;
      try {
        const res = await this.d.store.append(PREFIX + pool, events, { expectedVersion: r.version, commandId });
        if (res.duplicate) {
          this.records.delete(pool);
          return await this.record(pool);
        }
        const next = res.events.reduce(evolveBalancerStored, r);
        this.records.set(pool, next);
        return next;
      } catch (e) {
        this.records.delete(pool);
        if (!(e instanceof ConcurrencyError) || attempt >= 5) throw e;
      }
    }
  }

  private async execute(pool: string, commandId: string, command: BalancerCommand): Promise<BalancerRecord> {
    const r = await handleCommand<BalancerRecord, BalancerCommand, BalancerEvent>({
      store: this.d.store,
      streamId: PREFIX + pool,
      commandId,
      command,
      decide: decideBalancer,
      evolve: evolveBalancerStored,
      initialState: initialBalancerRecord,
      maxRetries: 5,
    });
    this.records.set(pool, r.state);
    return r.state;
  }
}

const poolOf = (p: string): string => (p === '' ? 'default' : p);

function checkPool(pool: string): void {
  new Violations().check(POOL.test(pool), 'resourcePool', `must be 1-128 of [A-Za-z0-9_.-], got '${pool}'`).throwIfAny();
}
