import type { ConsumerTuning } from '@berth/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { sql } from 'kysely';
import type { EventEnvelope } from '@berth/contracts';
import type { AnyKysely } from '@berth/event-store';
import { ack, consumerDefinition, openKv, startConsumer, term, type ConsumeResult, type RunningConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import { z } from 'zod';
import type { HostDirectory, VmDirectory, VmSlaInfo } from '../../application/ports.ts';
import type { SlaTier } from '../../domain/sla/sla.ts';

const specSchema = z.object({
  spec: z.object({
    slaTier: z.enum(['platinum', 'gold', 'silver', 'vapor']),
    priority: z.number().int(),
    memoryBytes: z.number().nonnegative(),
  }),
});

export const VM_SPECS_DURABLE = 'telemetry-vm-specs';
const TYPES = ['VmRequested', 'VmPlaced', 'VmDeleted'];

/**
 * Each VM's SLA class, priority and allocation, from inventory's VM events (VmRequested/VmPlaced
 * carry the spec; VmDeleted forgets it), kept in `telemetry_vms` so a restart has them at once, and
 * in memory for the loop.
 */
export class VmSpecs implements VmDirectory {
  private readonly vms = new Map<string, VmSlaInfo>();
  private consumer: RunningConsumer | undefined;
  constructor(private readonly db: AnyKysely) {}

  static async migrate(db: AnyKysely): Promise<void> {
    await sql`CREATE TABLE IF NOT EXISTS telemetry_vms (vm_id text PRIMARY KEY, sla_tier text NOT NULL, priority integer NOT NULL, memory_bytes bigint NOT NULL)`.execute(
      db,
    );
  }

  async load(): Promise<void> {
    const r = await sql<{
      vm_id: string;
      sla_tier: SlaTier;
      priority: number;
      memory_bytes: string;
    }>`SELECT vm_id, sla_tier, priority, memory_bytes FROM telemetry_vms`.execute(this.db);
    for (const x of r.rows)
      this.vms.set(x.vm_id, { vmId: x.vm_id, tier: x.sla_tier, priority: x.priority, memoryBytes: Number(x.memory_bytes) });
  }

  get(vmId: string): VmSlaInfo | undefined {
    return this.vms.get(vmId);
  }

  /** Also used by tests and demos that have no inventory. */
  async put(v: VmSlaInfo): Promise<void> {
    await sql`INSERT INTO telemetry_vms (vm_id, sla_tier, priority, memory_bytes) VALUES (${v.vmId}, ${v.tier}, ${v.priority}, ${v.memoryBytes})
      ON CONFLICT (vm_id) DO UPDATE SET sla_tier = EXCLUDED.sla_tier, priority = EXCLUDED.priority, memory_bytes = EXCLUDED.memory_bytes`.execute(
      this.db,
    );
    this.vms.set(v.vmId, v);
  }

  async handle(env: EventEnvelope): Promise<ConsumeResult> {
    const vmId = env.streamId.replace(/^vm-/, '');
    if (env.type === 'VmDeleted') {
      await sql`DELETE FROM telemetry_vms WHERE vm_id = ${vmId}`.execute(this.db);
      this.vms.delete(vmId);
      return ack();
    }
    const p = specSchema.safeParse(env.data);
    if (!p.success) return term(`${env.type} without a valid spec: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`);
    const s = p.data.spec;
    const known = this.vms.get(vmId);
    if (known && known.tier === s.slaTier && known.priority === s.priority && known.memoryBytes === s.memoryBytes) return ack();
    await this.put({ vmId, tier: s.slaTier, priority: s.priority, memoryBytes: s.memoryBytes });
    return ack();
  }

  /** `tuning`: NATS_CONSUMER_TUNING (settings of telemetry-vm-specs over infra/nats/consumers.json). */
  async follow(
    nc: NatsConnection,
    prefix: string | undefined,
    logger: Logger,
    tuning?: Readonly<Record<string, ConsumerTuning>>,
  ): Promise<void> {
    this.consumer = await startConsumer({
      nc,
      ...(prefix !== undefined ? { prefix } : {}),
      ...consumerDefinition(VM_SPECS_DURABLE, tuning),
      types: TYPES,
      handle: (env) => this.handle(env),
      logger,
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}

/** Host id -> resource pool, from inventory's host-snapshot bucket (for policy sets per pool). */
export class HostPools implements HostDirectory {
  private readonly pools = new Map<string, string>();
  private watch: { stop(): Promise<void> } | undefined;

  resourcePool(hostId: string): string | undefined {
    return this.pools.get(hostId);
  }

  async follow(nc: NatsConnection, prefix: string | undefined): Promise<void> {
    const kv = await openKv(nc, 'berth-host-snapshots', prefix !== undefined ? { prefix } : {});
    this.watch = await kv.watchJson<{ capacity?: { resourcePool?: string } }>((e) => {
      const pool = e.value?.capacity?.resourcePool;
      if (pool) this.pools.set(e.key, pool);
      else this.pools.delete(e.key);
    });
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }
}
