import { evolveStored, handleCommand, type AnyKysely, type PostgresEventStore } from '@berth/event-store';
import { IllegalStateError, Violations } from '@berth/errors';
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
  type BalancerCommand,
  type BalancerEvent,
  type BalancerRecord,
  type RecordedMove,
} from '../domain/balancer/log.ts';
import { allocationLoad } from '../domain/evacuation/plan.ts';
import type { FleetReader } from './evacuation-ports.ts';
import type { MigrationCommands } from './migrations.ts';

/** Stored events folded as the balancer stream's own events (checked by type; see `evolveStored`). */
const evolveBalancerStored = evolveStored<BalancerRecord, BalancerEvent>(
  { BalancerPolicySet: true, BalancerRunRecorded: true },
  evolveBalancer,
);

const PREFIX = 'balancer-';
const POOL = /^[A-Za-z0-9_.-]{1,128}$/;
/** Samples kept per host for the threshold window (one per tick). */
const MAX_SAMPLES = 600;

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
  private readonly lastPressurePass = new Map<string, number>();
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

  async record(pool: string): Promise<BalancerRecord> {
    const { events } = await this.d.store.readStream(PREFIX + pool);
    return events.reduce(evolveBalancerStored, initialBalancerRecord());
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
          if (policy.mode === 'off') continue;
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
    return view.all().filter((s) => poolOf(s.capacity.resourcePool) === pool && this.pressured.has(s.capacity.hostId)).length;
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
    const moves: RecordedMove[] = [];
    const migrationIds = new Map<string, string>();
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
        moves.push({
          vmId: m.vmId,
          from: m.from,
          to: m.to,
          migrationId: started.core.migrationId,
          improvement: m.improvement,
          reason: m.reason,
        });
      } catch (e) {
        this.d.logger.warn({ err: e, vmId: m.vmId, pool: policy.pool }, 'balancer: the move was refused');
      }
    }
    await this.execute(policy.pool, `balancer:${policy.pool}:${runId}`, {
      type: 'RecordRun',
      at: new Date(now).toISOString(),
      trigger,
      summary: run.summary,
      moves,
    });
    return { run, migrationIds };
  }

  private async evaluate(policy: BalancerPolicy, record: BalancerRecord, trigger: BalancerTrigger): Promise<BalancerRun> {
    const view = await this.d.fleet.view();
    // Hosts registered without a pool are in pool `default`.
    const hosts = view
      .all()
      .filter((s) => poolOf(s.capacity.resourcePool) === policy.pool)
      .map((s) => (s.capacity.resourcePool === policy.pool ? s : { ...s, capacity: { ...s.capacity, resourcePool: policy.pool } }));
    const vms: BalancedVm[] = [];
    for (const h of hosts) {
      for (const e of await this.d.fleet.evacuees(h.capacity.hostId)) {
        const last = record.lastMovedAt.get(e.spec.vmId);
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
    return r.state;
  }
}

const poolOf = (p: string): string => (p === '' ? 'default' : p);

function checkPool(pool: string): void {
  new Violations().check(POOL.test(pool), 'resourcePool', `must be 1-128 of [A-Za-z0-9_.-], got '${pool}'`).throwIfAny();
}
