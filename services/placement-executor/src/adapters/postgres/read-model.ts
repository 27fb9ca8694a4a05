import { sql, type Selectable } from 'kysely';
import type { ExecutorDb, ExecutorTables } from './read-model-tables.ts';

/** The executor's queries of its read model (the tables: read-model-tables.ts; how the log fills them: vm-projection.ts). */

export interface VmRow {
  readonly vmId: string;
  readonly status: string;
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly pending: string | null;
}

const toRow = (r: Selectable<ExecutorTables['executor_vms']>): VmRow => ({
  vmId: r.vm_id,
  status: r.status,
  hostId: r.host_id,
  hypervisorUri: r.hypervisor_uri,
  pending: r.pending,
});

export class ReadModel {
  constructor(private readonly db: ExecutorDb) {}

  /** VMs in a live migration this executor carries out. */
  async migrating(limit = 10_000): Promise<string[]> {
    const rows = await this.db.selectFrom('executor_vms').select('vm_id').where('status', '=', 'migrating').limit(limit).execute();
    return rows.map((r) => r.vm_id);
  }

  /** VMs with work to finish: provisioning, or an operation not yet carried out. */
  async unfinished(limit = 10_000): Promise<string[]> {
    const rows = await this.db
      .selectFrom('executor_vms')
      .select('vm_id')
      .where((eb) => eb.or([eb('status', '=', 'provisioning'), eb('pending', 'is not', null)]))
      .limit(limit)
      .execute();
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
    const vms = await this.db
      .selectFrom('executor_vms')
      .select(['host_id', 'hypervisor_uri'])
      .where('status', 'in', ['provisioning', 'running', 'stopped', 'failed', 'migrating'])
      .distinct()
      .execute();
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
    await this.db
      .insertInto('executor_hosts')
      .values({ host_id: hostId, hypervisor_uri: uri, removed })
      .onConflict((oc) => oc.column('host_id').doUpdateSet({ hypervisor_uri: uri, removed, updated_at: sql`now()` }))
      .execute();
  }

  async markHostRemoved(hostId: string): Promise<void> {
    await this.db.updateTable('executor_hosts').set({ removed: true, updated_at: new Date() }).where('host_id', '=', hostId).execute();
  }
}
