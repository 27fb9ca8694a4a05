import { Migrator, sql, type ColumnType, type Kysely, type Migration } from 'kysely';
import { lz4Compression, type AnyKysely } from '@berth/event-store';
import type { HostSnapshot, HostState } from '@berth/fit';
import type { Host } from '../../domain/host/state.ts';
import type { Vm, VmStatus } from '../../domain/vm/state.ts';
import { inventoryEvents } from '@berth/contracts';
import type { ProjectQuota, ProjectTotals } from '../../domain/project/state.ts';

const { DEFAULT_PROJECT } = inventoryEvents;
export const NO_USAGE: ProjectTotals = { vms: 0, vcpus: 0, memoryBytes: 0, devices: {} };

export interface ProjectRow {
  readonly project: string;
  readonly description: string;
  readonly quota: ProjectQuota;
  readonly usage: ProjectTotals;
  readonly identities: readonly string[];
}

/** A jsonb column: read back parsed, written as JSON text. */
type Json<T> = ColumnType<T, string, string>;

/**
 * Read-model tables for the List calls; written only by the projection. A type alias, not an
 * interface: Kysely's `withTables` (how the service views the shared database) wants a record.
 */
export type ReadModelTables = {
  inventory_hosts: {
    host_id: string;
    name: string;
    state: string;
    resource_pool: string;
    tags: string[];
    generation: number;
    removed: boolean;
    doc: Json<Host>;
  };
  inventory_vms: {
    vm_id: string;
    name: string;
    status: string;
    host_id: string | null;
    project: string;
    doc: Json<Vm>;
    requested_at: ColumnType<Date, string, string>;
    updated_at: ColumnType<Date, string, string>;
  };
  inventory_projects: {
    project: string;
    description: string;
    quota: Json<ProjectQuota>;
    usage: Json<ProjectTotals>;
    version: number;
  };
  inventory_identity_bindings: {
    identity: string;
    project: string;
  };
};

const migrations: Record<string, Migration> = {
  '0001_hosts_vms': {
    up: async (db) => {
      await db.schema
        .createTable('inventory_hosts')
        .addColumn('host_id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('resource_pool', 'text', (c) => c.notNull())
        .addColumn('tags', sql`text[]`, (c) => c.notNull())
        .addColumn('generation', 'bigint', (c) => c.notNull())
        .addColumn('removed', 'boolean', (c) => c.notNull())
        .addColumn('doc', 'jsonb', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('inventory_vms')
        .addColumn('vm_id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('host_id', 'text')
        .addColumn('doc', 'jsonb', (c) => c.notNull())
        .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('inventory_vms_host_idx').on('inventory_vms').column('host_id').execute();
    },
  },
  '0002_docs_lz4': {
    up: async (db) => {
      // A host's document holds all its claims and is rewritten on every claim: pglz was ~2% of the machine.
      for (const table of ['inventory_hosts', 'inventory_vms']) await sql.raw(lz4Compression(table, 'doc')).execute(db);
    },
  },
  '0003_docs_json': {
    up: async (db) => {
      // Documents are written whole and read whole, never queried inside: json keeps the text as sent
      // (its input only checks the syntax), where jsonb parsed every write into its binary form —
      // documents were half the JSON Postgres parsed under load.
      for (const table of ['inventory_hosts', 'inventory_vms']) {
        await sql.raw(`ALTER TABLE ${table} ALTER COLUMN doc TYPE json USING doc::json`).execute(db);
        await sql.raw(lz4Compression(table, 'doc')).execute(db); // a new type starts with the default method
      }
    },
  },
  '0004_vms_waiting_idx': {
    up: async (db) => {
      // The capacity waits read the VMs waiting for capacity on every batch that adds capacity.
      await sql
        .raw(`CREATE INDEX inventory_vms_waiting_idx ON inventory_vms (requested_at) WHERE status = 'waiting-for-capacity'`)
        .execute(db);
    },
  },
  '0005_projects': {
    up: async (db) => {
      await sql.raw(`ALTER TABLE inventory_vms ADD COLUMN project text NOT NULL DEFAULT 'default'`).execute(db);
      await sql.raw(`UPDATE inventory_vms SET project = COALESCE(doc->'core'->>'project', 'default')`).execute(db);
      await db.schema.createIndex('inventory_vms_project_idx').on('inventory_vms').columns(['project', 'requested_at']).execute();
      await db.schema
        .createTable('inventory_projects')
        .addColumn('project', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('quota', 'jsonb', (c) => c.notNull())
        .addColumn('usage', 'jsonb', (c) => c.notNull())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('inventory_identity_bindings')
        .addColumn('identity', 'text', (c) => c.notNull())
        .addColumn('project', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('inventory_identity_bindings_pk', ['identity', 'project'])
        .execute();
      await db.schema.createIndex('inventory_identity_bindings_project_idx').on('inventory_identity_bindings').column('project').execute();
    },
  },
};

export async function migrateReadModel(db: AnyKysely): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'inventory_migration',
    migrationLockTableName: 'inventory_migration_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined)
    throw new Error(`inventory read-model migration failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, {
      cause: error,
    });
}

export interface HostRow {
  readonly hostId: string;
  readonly host: Host;
}

/** Queries over the read model (eventually consistent; Get calls read the log instead). */
export class ReadModel {
  private readonly db: Kysely<ReadModelTables>;
  constructor(db: AnyKysely) {
    this.db = db.withTables<ReadModelTables>();
  }

  async listHosts(filter: { state?: HostState; resourcePool?: string; tag?: string }): Promise<Host[]> {
    let q = this.db.selectFrom('inventory_hosts').select('doc').where('removed', '=', false);
    if (filter.state) q = q.where('state', '=', filter.state);
    if (filter.resourcePool) q = q.where('resource_pool', '=', filter.resourcePool);
    if (filter.tag) q = q.where(sql<boolean>`${filter.tag} = ANY(tags)`);
    return (await q.orderBy('name').orderBy('host_id').execute()).map((r) => r.doc);
  }

  /** `projects`: only VMs of these projects (a client's view); absent: every VM. */
  async listVms(filter: {
    hostId?: string;
    status?: VmStatus;
    project?: string;
    projects?: readonly string[];
  }): Promise<{ vm: Vm; requestedAt: string; updatedAt: string }[]> {
    if (filter.projects !== undefined && filter.projects.length === 0) return [];
    let q = this.db.selectFrom('inventory_vms').select(['doc', 'requested_at', 'updated_at']);
    if (filter.projects !== undefined) q = q.where('project', 'in', [...filter.projects]);
    if (filter.project) q = q.where('project', '=', filter.project);
    if (filter.hostId) q = q.where('host_id', '=', filter.hostId);
    if (filter.status) q = q.where('status', '=', filter.status);
    const rows = await q.orderBy('requested_at').orderBy('vm_id').execute();
    return rows.map((r) => ({ vm: r.doc, requestedAt: r.requested_at.toISOString(), updatedAt: r.updated_at.toISOString() }));
  }

  /** VMs waiting for capacity, oldest request first; `exec` reads inside a caller's transaction. */
  async waitingForCapacity(exec?: AnyKysely): Promise<Extract<Vm, { status: 'waiting-for-capacity' }>[]> {
    const rows = await (exec === undefined ? this.db : exec.withTables<ReadModelTables>())
      .selectFrom('inventory_vms')
      .select('doc')
      .where('status', '=', 'waiting-for-capacity')
      .orderBy('requested_at')
      .orderBy('vm_id')
      .execute();
    return rows.map((r) => r.doc).filter((v): v is Extract<Vm, { status: 'waiting-for-capacity' }> => v.status === 'waiting-for-capacity');
  }

  /** Projects as last projected (`default` always, even before anything touched it). */
  async listProjects(): Promise<ProjectRow[]> {
    const rows = await this.db
      .selectFrom('inventory_projects')
      .select(['project', 'description', 'quota', 'usage'])
      .orderBy('project')
      .execute();
    const bindings = await this.db.selectFrom('inventory_identity_bindings').select(['identity', 'project']).orderBy('identity').execute();
    const out = rows.map((r) => ({ ...r, identities: bindings.filter((b) => b.project === r.project).map((b) => b.identity) }));
    if (!out.some((r) => r.project === DEFAULT_PROJECT))
      out.unshift({
        project: DEFAULT_PROJECT,
        description: '',
        quota: { devices: {} },
        usage: NO_USAGE,
        identities: bindings.filter((b) => b.project === DEFAULT_PROJECT).map((b) => b.identity),
      });
    return out;
  }

  /** The identities bound to a project, as last projected. */
  async identitiesOf(project: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('inventory_identity_bindings')
      .select('identity')
      .where('project', '=', project)
      .orderBy('identity')
      .execute();
    return rows.map((r) => r.identity);
  }

  async listSnapshots(snapshotOf: (h: Host) => HostSnapshot | undefined): Promise<HostSnapshot[]> {
    return (await this.listHosts({})).map(snapshotOf).filter((s): s is HostSnapshot => s !== undefined);
  }

  /** Storage pools any host ever declared, read from the log so a host registered a moment ago counts. */
  async knownPools(): Promise<ReadonlySet<string>> {
    const { rows } = await sql<{ name: string }>`
      SELECT DISTINCT p->>'name' AS name FROM events e, jsonb_array_elements(e.data->'capacity'->'storagePools') p
      WHERE e.type IN ('HostRegistered', 'HostUpdated')`.execute(this.db);
    return new Set(rows.map((r) => r.name));
  }
}
