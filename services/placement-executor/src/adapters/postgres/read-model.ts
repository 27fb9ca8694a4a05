import { Migrator, sql, type ColumnType, type Kysely, type Migration, type Selectable, type Transaction } from 'kysely';
import type { StoredEvent } from '@berth/event-store';

/**
 * The executor's read model, next to its event log in berth_executor:
 *   executor_vms   — one row per VM: status, host and pending operation (a projection of the log),
 *                    so a restarted executor finds unfinished work and reconciliation knows each host's VMs;
 *   executor_hosts — host id -> hypervisor URI, from inventory's host events.
 * The log stays the truth: workers re-read a VM's stream before acting on a row.
 */
export interface ExecutorTables {
  executor_vms: {
    vm_id: string;
    status: string;
    host_id: string;
    hypervisor_uri: string;
    attempt: number;
    pending: string | null;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
  executor_hosts: {
    host_id: string;
    hypervisor_uri: string;
    removed: boolean;
    updated_at: ColumnType<Date, Date | undefined, Date>;
  };
}
export type ExecutorDb = Kysely<ExecutorTables>;

const migrations: Record<string, Migration> = {
  '001_read_model': {
    async up(db) {
      await db.schema
        .createTable('executor_vms')
        .addColumn('vm_id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('hypervisor_uri', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('pending', 'text')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('executor_vms_host').on('executor_vms').columns(['host_id', 'status']).execute();
      await db.schema
        .createTable('executor_hosts')
        .addColumn('host_id', 'text', (c) => c.primaryKey())
        .addColumn('hypervisor_uri', 'text', (c) => c.notNull())
        .addColumn('removed', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};

export async function migrateReadModel(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'executor_migration',
    migrationLockTableName: 'executor_migration_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw new Error(`executor read-model migration failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
}

interface Loc {
  vmId: string;
  hostId: string;
  hypervisorUri: string;
  attempt: number;
}

const STATUS: Readonly<Record<string, string>> = {
  VmProvisioning: 'provisioning', VmStarted: 'running', VmStopped: 'stopped', VmProvisionFailed: 'failed', VmDeleted: 'deleted',
};
const CLEARS_PENDING = new Set(['VmStarted', 'VmStopped', 'VmDeleted', 'VmOperationFailed', 'VmProvisionFailed']);

/** Projection handler: folds a batch of the executor's own events into executor_vms. */
export async function projectVmEvents(events: readonly StoredEvent[], trx: Transaction<ExecutorTables>): Promise<void> {
  for (const e of events) {
    if (!e.streamId.startsWith('vm-')) continue;
    const d = e.data as Loc & { operation?: string };
    const status = STATUS[e.type];
    if (e.type === 'VmProvisioning') {
      await trx
        .insertInto('executor_vms')
        .values({ vm_id: d.vmId, status: 'provisioning', host_id: d.hostId, hypervisor_uri: d.hypervisorUri, attempt: d.attempt, pending: null })
        .onConflict((oc) => oc.column('vm_id').doUpdateSet({
          status: 'provisioning', host_id: d.hostId, hypervisor_uri: d.hypervisorUri, attempt: d.attempt, pending: null, updated_at: sql`now()`,
        }))
        .execute();
      continue;
    }
    const set: { status?: string; pending?: string | null } = {};
    if (status !== undefined) set.status = status;
    if (e.type === 'OperationRequested' && d.operation !== undefined) set.pending = d.operation;
    else if (CLEARS_PENDING.has(e.type)) set.pending = null;
    if (Object.keys(set).length === 0) continue;
    // A delete stays pending until carried out, whatever arrives after it.
    if (set.pending !== undefined && set.pending !== null && set.pending !== 'delete') {
      await trx.updateTable('executor_vms').set({ ...set, updated_at: new Date() }).where('vm_id', '=', d.vmId)
        .where((eb) => eb.or([eb('pending', 'is', null), eb('pending', '!=', 'delete')])).execute();
    } else {
      await trx.updateTable('executor_vms').set({ ...set, updated_at: new Date() }).where('vm_id', '=', d.vmId).execute();
    }
  }
}

export interface VmRow {
  readonly vmId: string;
  readonly status: string;
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly pending: string | null;
}

const toRow = (r: Selectable<ExecutorTables['executor_vms']>): VmRow => ({
  vmId: r.vm_id, status: r.status, hostId: r.host_id, hypervisorUri: r.hypervisor_uri, pending: r.pending,
});

export class ReadModel {
  constructor(private readonly db: ExecutorDb) {}

  /** VMs with work to finish: provisioning, or an operation not yet carried out. */
  async unfinished(limit = 10_000): Promise<string[]> {
    const rows = await this.db.selectFrom('executor_vms').select('vm_id')
      .where((eb) => eb.or([eb('status', '=', 'provisioning'), eb('pending', 'is not', null)])).limit(limit).execute();
    return rows.map((r) => r.vm_id);
  }

  async vm(vmId: string): Promise<VmRow | undefined> {
    const r = await this.db.selectFrom('executor_vms').selectAll().where('vm_id', '=', vmId).executeTakeFirst();
    return r === undefined ? undefined : toRow(r);
  }

  async vmsOnHost(hostId: string): Promise<VmRow[]> {
    return (await this.db.selectFrom('executor_vms').selectAll().where('host_id', '=', hostId).execute()).map(toRow);
  }

  /** Every host to reconcile: registered ones and those VMs were placed on, id -> URI. */
  async hosts(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const vms = await this.db.selectFrom('executor_vms').select(['host_id', 'hypervisor_uri'])
      .where('status', 'in', ['provisioning', 'running', 'stopped', 'failed']).distinct().execute();
    for (const v of vms) if (v.host_id !== '') out.set(v.host_id, v.hypervisor_uri);
    const hosts = await this.db.selectFrom('executor_hosts').select(['host_id', 'hypervisor_uri']).where('removed', '=', false).execute();
    for (const h of hosts) out.set(h.host_id, h.hypervisor_uri);
    return out;
  }

  async hostUri(hostId: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('executor_hosts').select('hypervisor_uri').where('host_id', '=', hostId).executeTakeFirst();
    return r?.hypervisor_uri;
  }

  async upsertHost(hostId: string, uri: string, removed: boolean): Promise<void> {
    await this.db.insertInto('executor_hosts').values({ host_id: hostId, hypervisor_uri: uri, removed })
      .onConflict((oc) => oc.column('host_id').doUpdateSet({ hypervisor_uri: uri, removed, updated_at: sql`now()` })).execute();
  }

  async markHostRemoved(hostId: string): Promise<void> {
    await this.db.updateTable('executor_hosts').set({ removed: true, updated_at: new Date() }).where('host_id', '=', hostId).execute();
  }
}

/** The store's Kysely is untyped (it shares the database); the read model's tables are these. */
export const asExecutorDb = (db: Kysely<unknown>): ExecutorDb => db as unknown as ExecutorDb;
