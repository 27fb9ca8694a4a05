import { handleCommand, type AnyKysely, type PostgresEventStore } from '@berth/event-store';
import { Violations } from '@berth/errors';
import type { Logger } from '@berth/observability';
import { sql } from 'kysely';
import {
  balance,
  defaultPolicy,
  validatePolicy,
  type BalancedVm,
  type BalancerPolicy,
  type BalancerRun,
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

const PREFIX = 'balancer-';
const POOL = /^[A-Za-z0-9_.-]{1,128}$/;
/** Samples kept per host for the threshold window (one per tick). */
const MAX_SAMPLES = 600;

export interface BalancerDeps {
  readonly store: PostgresEventStore;
  readonly db: AnyKysely;
  readonly fleet: FleetReader;
  readonly migrations: Pick<MigrationCommands, 'migrate'>;
  readonly clock: { now(): number };
  readonly logger: Logger;
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
  private readonly samples = new Map<string, LoadSample[]>();
  private readonly lastRun = new Map<string, number>();
  private running = false;

  constructor(private readonly d: BalancerDeps) {}

  async record(pool: string): Promise<BalancerRecord> {
    const { events } = await this.d.store.readStream(PREFIX + pool);
    return events.reduce((s, e) => evolveBalancer(s, { type: e.type, data: e.data } as BalancerEvent), initialBalancerRecord());
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

  /** What a run of the pool's policy would move now, and why nothing else (changes nothing). */
  async dryRun(pool: string): Promise<BalancerRun> {
    checkPool(pool);
    const record = await this.record(pool);
    return this.evaluate(record.policy ?? defaultPolicy(pool), record);
  }

  /** One period: sample the loads, run each pool that is due, start its moves. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.sample(await this.d.fleet.view());
      for (const pool of await this.pools()) {
        const record = await this.record(pool);
        const policy = record.policy;
        if (!policy || policy.mode === 'off') continue;
        const now = this.d.clock.now();
        if (now - (this.lastRun.get(pool) ?? 0) < policy.intervalSeconds * 1000) continue;
        this.lastRun.set(pool, now);
        await this.runPool(policy, record, now);
      }
    } finally {
      this.running = false;
    }
  }

  private async runPool(policy: BalancerPolicy, record: BalancerRecord, now: number): Promise<void> {
    const run = await this.evaluate(policy, record);
    const moves: RecordedMove[] = [];
    for (const m of run.moves) {
      try {
        const started = await this.d.migrations.migrate({
          commandId: `balancer:${policy.pool}:${now}:${m.vmId}`,
          vmId: m.vmId,
          destination: m.to,
          policy: {},
          trigger: 'balancer',
          reason: `balancer (${policy.mode}, pool ${policy.pool}): ${m.reason}`,
        });
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
    await this.execute(policy.pool, `balancer:${policy.pool}:${now}`, {
      type: 'RecordRun',
      at: new Date(now).toISOString(),
      summary: run.summary,
      moves,
    });
  }

  private async evaluate(policy: BalancerPolicy, record: BalancerRecord): Promise<BalancerRun> {
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
    return balance({
      policy,
      now: this.d.clock.now(),
      hosts,
      vms,
      source: 'allocation',
      history: (hostId) => this.samples.get(hostId) ?? [],
      movesThisInterval: 0,
    });
  }

  private sample(view: Awaited<ReturnType<FleetReader['view']>>): void {
    const at = this.d.clock.now();
    for (const s of view.all()) {
      const list = this.samples.get(s.capacity.hostId) ?? [];
      list.push({ ...allocationLoad(s), at });
      if (list.length > MAX_SAMPLES) list.shift();
      this.samples.set(s.capacity.hostId, list);
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
      evolve: evolveBalancer,
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
