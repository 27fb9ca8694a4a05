import { sql, type Transaction } from 'kysely';
import type { StoredEvent } from '@berth/event-store';
import type { ExecutorTables } from './read-model-tables.ts';

/** executor_vms as a projection of the executor's own log: each VM's events in a batch folded into one change, written in at most two statements. */

interface Loc {
  vmId: string;
  hostId: string;
  hypervisorUri: string;
  attempt: number;
}

const STATUS: Readonly<Record<string, string>> = {
  DomainProvisioningStarted: 'provisioning',
  VmStarted: 'running',
  DomainStopped: 'stopped',
  DomainProvisionFailed: 'failed',
  DomainDeleted: 'deleted',
  // A live migration: the row stays on the source host until VmMigrated moves it.
  VmMigrationStarted: 'migrating',
  VmMigrationFailed: 'running',
};
const CLEARS_PENDING = new Set(['VmStarted', 'DomainStopped', 'DomainDeleted', 'DomainOperationFailed', 'DomainProvisionFailed']);

/**
 * How a batch changes a row's pending operation: `set` writes `value`; `unless-delete` writes it unless
 * the row's pending operation is `delete` (a delete stays pending until carried out, whatever arrives after it).
 */
interface PendingChange {
  readonly rule: 'set' | 'unless-delete';
  readonly value: string | null;
}

/** The net effect of one VM's events in a batch. Unset fields leave the row's value alone. */
interface VmChange {
  /** From the last DomainProvisioningStarted: the row is (re)written whole from there on. */
  reset?: Loc;
  status?: string;
  pending?: PendingChange;
}

/** Applies one event to the VM's net change; false when the event changes nothing. */
function fold(change: VmChange, type: string, d: Loc & { operation?: string; cold?: boolean }): boolean {
  if (type === 'DomainProvisioningStarted') {
    change.reset = d;
    change.status = 'provisioning';
    change.pending = { rule: 'set', value: null };
    return true;
  }
  if (type === 'VmMigrated') {
    // The VM now lives on the destination (d carries its host and URI): the row moves with it.
    change.reset = d;
    change.status = d.cold ? 'stopped' : 'running';
    return true;
  }
  // A cold move (of a stopped VM) that failed leaves it stopped where it was.
  if (type === 'VmMigrationFailed' && d.cold) {
    change.status = 'stopped';
    return true;
  }
  const status = STATUS[type];
  let pending: string | null | undefined;
  if (type === 'OperationRequested' && d.operation !== undefined) pending = d.operation;
  else if (CLEARS_PENDING.has(type)) pending = null;
  if (status === undefined && pending === undefined) return false;
  if (status !== undefined) change.status = status;
  if (pending === null || pending === 'delete') change.pending = { rule: 'set', value: pending };
  else if (pending !== undefined) {
    const before = change.pending;
    // Still depends on the row's value until something sets it outright.
    change.pending =
      before === undefined || before.rule === 'unless-delete'
        ? { rule: 'unless-delete', value: pending }
        : { rule: 'set', value: before.value === 'delete' ? 'delete' : pending };
  }
  return true;
}

/** Rows passed as one array parameter per column: the SQL text and parameter count do not grow with the rows. */
function unnestRows<R extends Record<string, unknown>, A extends string>(
  alias: A,
  pgTypes: { readonly [K in keyof R & string]: string },
  rows: readonly R[],
) {
  const columns = Object.keys(pgTypes) as (keyof R & string)[];
  const arrays = columns.map((c) => sql`${rows.map((r) => r[c])}::${sql.raw(pgTypes[c])}[]`);
  return sql<R>`unnest(${sql.join(arrays)})`.as<A>(sql`${sql.id(alias)}(${sql.join(columns.map((c) => sql.id(c)))})`);
}

/**
 * Projection handler: folds a batch of the executor's own events into executor_vms in at most two
 * statements, whatever the batch size. Each VM's events are folded in memory first (same result as
 * applying them one by one); VMs whose batch holds a DomainProvisioningStarted are upserted whole, the others updated
 * from the net change, where the row's current pending operation still decides (a pending delete stays).
 */
export async function projectVmEvents(events: readonly StoredEvent[], trx: Transaction<ExecutorTables>): Promise<void> {
  const changes = new Map<string, VmChange>();
  for (const e of events) {
    if (!e.streamId.startsWith('vm-')) continue;
    const d = e.data as Loc & { operation?: string };
    const change = changes.get(d.vmId) ?? {};
    if (fold(change, e.type, d)) changes.set(d.vmId, change);
  }
  const resets: { vm_id: string; status: string; host_id: string; hypervisor_uri: string; attempt: number; pending: string | null }[] = [];
  // status null: unchanged; pending_rule null: pending unchanged.
  const updates: { vm_id: string; status: string | null; pending_rule: PendingChange['rule'] | null; pending: string | null }[] = [];
  for (const [vmId, c] of changes) {
    if (c.reset !== undefined) {
      resets.push({
        vm_id: vmId,
        status: c.status ?? 'provisioning',
        host_id: c.reset.hostId,
        hypervisor_uri: c.reset.hypervisorUri,
        attempt: c.reset.attempt,
        pending: c.pending?.value ?? null,
      });
    } else {
      updates.push({ vm_id: vmId, status: c.status ?? null, pending_rule: c.pending?.rule ?? null, pending: c.pending?.value ?? null });
    }
  }
  if (resets.length > 0) {
    const r = unnestRows(
      'r',
      { vm_id: 'text', status: 'text', host_id: 'text', hypervisor_uri: 'text', attempt: 'int4', pending: 'text' },
      resets,
    );
    await trx
      .insertInto('executor_vms')
      .columns(['vm_id', 'status', 'host_id', 'hypervisor_uri', 'attempt', 'pending'])
      .expression((eb) => eb.selectFrom(r).select(['r.vm_id', 'r.status', 'r.host_id', 'r.hypervisor_uri', 'r.attempt', 'r.pending']))
      .onConflict((oc) =>
        oc.column('vm_id').doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          host_id: eb.ref('excluded.host_id'),
          hypervisor_uri: eb.ref('excluded.hypervisor_uri'),
          attempt: eb.ref('excluded.attempt'),
          pending: eb.ref('excluded.pending'),
          updated_at: sql`now()`,
        })),
      )
      .execute();
  }
  if (updates.length > 0) {
    const u = unnestRows('u', { vm_id: 'text', status: 'text', pending_rule: 'text', pending: 'text' }, updates);
    await trx
      .updateTable('executor_vms as t')
      .from(u)
      .set((eb) => ({
        status: eb.fn.coalesce('u.status', 't.status'),
        // Kept when the batch does not set it, or sets it only if no delete is pending and one is.
        pending: eb
          .case()
          .when(
            eb.or([eb('u.pending_rule', 'is', null), eb.and([eb('u.pending_rule', '=', 'unless-delete'), eb('t.pending', '=', 'delete')])]),
          )
          .then(eb.ref('t.pending'))
          .else(eb.ref('u.pending'))
          .end(),
        updated_at: sql`now()`,
      }))
      .whereRef('t.vm_id', '=', 'u.vm_id')
      // Nothing to write when the batch only requests operations over a pending delete.
      .where((eb) =>
        eb.or([
          eb('u.status', 'is not', null),
          eb('u.pending_rule', 'is distinct from', 'unless-delete'),
          eb('t.pending', 'is distinct from', 'delete'),
        ]),
      )
      .execute();
  }
}
