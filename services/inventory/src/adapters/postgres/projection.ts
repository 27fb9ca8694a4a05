import { CompiledQuery, type Insertable } from 'kysely';
import { positionOf, type AnyTransaction, type GlobalPosition, type StoredEvent } from '@berth/event-store';
import type { HostSnapshot } from '@berth/fit';
import type { HardwareConfig } from '@berth/hardware-config';
import { inventoryEvents } from '@berth/contracts';
import { hostSnapshotOf, initialHost, type Host } from '../../domain/host/state.ts';
import { initialVm, placementOf, type Vm } from '../../domain/vm/state.ts';
import { hostDocJson, rowJson, vmDocJson } from './doc-json.ts';
import { placementClassifier } from './placements.ts';
import { projectProjects } from './project-projection.ts';
import type { ReadModelTables } from './read-model.ts';
import { evolveHostStored, evolveVmStored, isStored } from '../../application/streams.ts';

/** A touched host's snapshot after a batch. */
export interface HostChange {
  readonly hostId: string;
  /** `undefined`: the host was removed. */
  readonly snapshot: HostSnapshot | undefined;
  /**
   * The batch only placed VMs on it: its only events are ResourcesClaimed, each committed with the
   * VmPlaced of that VM on this host in the same batch (a scheduler's placement, which the scheduler
   * counts on the wire itself). It has less room than the bucket says, never more, so a reader that has
   * not seen it yet can only try a host inventory then refuses. A live migration's destination claim
   * (committed with VmMigrationStarted) is never one: the scheduler did not make it.
   */
  readonly placementsOnly: boolean;
}

/** Where the scheduler's views go after each batch (the KV buckets). */
export interface SnapshotSink {
  /** The batch's touched hosts, all acknowledged when it resolves (or held back: see lingerClaims). */
  hosts(changes: readonly HostChange[]): Promise<void>;
  hardwareConfig(config: HardwareConfig): Promise<void>;
  /**
   * The log position of the batch's last event, written after the batch's host snapshots were
   * acknowledged: a reader that has seen it has seen every host change up to that position that
   * gave a host room (placements alone may come later: HostChange.placementsOnly).
   */
  position(p: GlobalPosition): Promise<void>;
}

/** Runs inside each batch after the documents are written (capacity waits, see application/capacity-waits.ts). */
export type BatchHook = (events: readonly StoredEvent[], hosts: ReadonlyMap<string, Host>, trx: AnyTransaction) => Promise<void>;

/** A row of `inventory_hosts` as the upsert takes it, but its document (given as JSON text, see doc-json.ts). */
type HostRow = Omit<Insertable<ReadModelTables['inventory_hosts']>, 'doc'>;
type VmRow = Omit<Insertable<ReadModelTables['inventory_vms']>, 'doc'>;

/**
 * The batch's documents in one statement per table, as one JSON parameter (`json_to_recordset`): the
 * same text every batch, so nothing is built or compiled per row (a Kysely multi-row upsert parsed and
 * compiled every value of every row, ~0.3 ms a batch per touched host), and a `json` document column
 * keeps the text of its value as serialised, as when it was sent as a parameter of its own. Each row
 * takes its own values on conflict (`excluded`); a VM keeps its project and requested_at.
 */
const UPSERT_HOSTS = `INSERT INTO inventory_hosts (host_id, name, state, resource_pool, tags, generation, removed, doc)
SELECT r.host_id, r.name, r.state, r.resource_pool, r.tags, r.generation, r.removed, r.doc
FROM json_to_recordset($1::json) AS r(host_id text, name text, state text, resource_pool text, tags text[], generation bigint, removed boolean, doc json)
ON CONFLICT (host_id) DO UPDATE SET name = excluded.name, state = excluded.state, resource_pool = excluded.resource_pool, tags = excluded.tags,
  generation = excluded.generation, removed = excluded.removed, doc = excluded.doc`;
const UPSERT_VMS = `INSERT INTO inventory_vms (vm_id, name, status, host_id, project, doc, updated_at, requested_at)
SELECT r.vm_id, r.name, r.status, r.host_id, r.project, r.doc, r.updated_at, r.requested_at
FROM json_to_recordset($1::json) AS r(vm_id text, name text, status text, host_id text, project text, doc json, updated_at timestamptz, requested_at timestamptz)
ON CONFLICT (vm_id) DO UPDATE SET name = excluded.name, status = excluded.status, host_id = excluded.host_id, doc = excluded.doc,
  updated_at = excluded.updated_at`;

const idOf = (streamId: string, prefix: string): string | undefined =>
  streamId.startsWith(prefix) ? streamId.slice(prefix.length) : undefined;

function group(events: readonly StoredEvent[], prefix: string): Map<string, StoredEvent[]> {
  const m = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const id = idOf(e.streamId, prefix);
    if (id === undefined) continue;
    const list = m.get(id) ?? [];
    list.push(e);
    m.set(id, list);
  }
  return m;
}

export const snapshotOf = (h: Host): HostSnapshot | undefined => (h.status === 'active' ? hostSnapshotOf(h) : undefined);

/** Documents kept between batches; dropped whole beyond this many (the read model has them all). */
const MAX_CACHED_DOCS = 50_000;

/**
 * The documents of `ids`: from memory when the previous batch was this projection's own (see
 * runProjection's `follows`), the rest read from the read model.
 */
async function docsOf<D>(
  cache: Map<string, D>,
  ids: readonly string[],
  read: (missing: string[]) => Promise<[string, D][]>,
): Promise<Map<string, D>> {
  const missing = ids.filter((id) => !cache.has(id));
  if (missing.length > 0) for (const [id, doc] of await read(missing)) cache.set(id, doc);
  return cache;
}

/**
 * The read-model projection: folds each batch into the stored aggregate documents with the domain's
 * own evolve functions, then hands every touched host's snapshot to `sink` (after the rows are
 * written, before the checkpoint commits: a failed put retries the batch; puts are idempotent).
 * The documents it wrote stay in memory for the next batch while no other replica writes between.
 */
export function readModelProjection(sink?: SnapshotSink, afterBatch?: BatchHook) {
  const hostDocs = new Map<string, Host>();
  const vmDocs = new Map<string, Vm>();
  return async (
    events: readonly StoredEvent[],
    trx: AnyTransaction,
    batch: { readonly follows: boolean } = { follows: false },
  ): Promise<void> => {
    const db = trx.withTables<ReadModelTables>();
    for (const cache of [hostDocs, vmDocs]) if (!batch.follows || cache.size > MAX_CACHED_DOCS) cache.clear();
    const hosts = group(events, 'host-');
    const touched: [string, Host][] = [];
    const changes: HostChange[] = [];
    const hostRows: string[] = [];
    if (hosts.size > 0) {
      const placementsOnly = placementClassifier(events);
      const docs = await docsOf(hostDocs, [...hosts.keys()], async (ids) => {
        const rows = await db.selectFrom('inventory_hosts').select(['host_id', 'doc']).where('host_id', 'in', ids).execute();
        return rows.map((r) => [r.host_id, r.doc]);
      });
      for (const [hostId, list] of hosts) {
        // Events at or below the stored generation were applied before a retried batch.
        const start = docs.get(hostId) ?? initialHost();
        const fresh = list.filter((e) => e.streamPosition > start.generation);
        const host = fresh.reduce(evolveHostStored, start);
        if (host.status === 'absent') continue;
        docs.set(hostId, host);
        const active = host.status === 'active';
        const row: HostRow = {
          host_id: hostId,
          name: active ? host.record.capacity.name : hostId,
          state: active ? host.state : 'removed',
          resource_pool: active ? host.record.capacity.resourcePool : '',
          tags: active ? [...host.record.capacity.tags] : [],
          generation: host.generation,
          removed: !active,
        };
        hostRows.push(rowJson(row, hostDocJson(host)));
        touched.push([hostId, host]);
        changes.push({ hostId, snapshot: snapshotOf(host), placementsOnly: placementsOnly(hostId, fresh) });
      }
      // One statement per table: the transaction stays short, and while it is open the relay's
      // global read (below pg_snapshot_xmin) cannot pass it.
      if (hostRows.length > 0) await trx.executeQuery(CompiledQuery.raw(UPSERT_HOSTS, [`[${hostRows.join(',')}]`]));
    }
    const vms = group(events, 'vm-');
    if (vms.size > 0) {
      const docs = await docsOf(vmDocs, [...vms.keys()], async (ids) => {
        const rows = await db.selectFrom('inventory_vms').select(['vm_id', 'doc']).where('vm_id', 'in', ids).execute();
        return rows.map((r) => [r.vm_id, r.doc]);
      });
      const vmRows: string[] = [];
      for (const [vmId, list] of vms) {
        const start = docs.get(vmId) ?? initialVm();
        const fresh = list.filter((e) => e.streamPosition > start.version);
        const vm = fresh.reduce(evolveVmStored, start);
        if (vm.status === 'absent' || fresh.length === 0) continue;
        docs.set(vmId, vm);
        const at = fresh.at(-1)!.occurredAt;
        const row: VmRow = {
          vm_id: vmId,
          name: vm.core.spec.name,
          status: vm.status,
          host_id: placementOf(vm)?.hostId ?? null,
          project: vm.core.project,
          updated_at: at,
          requested_at: fresh[0]!.occurredAt,
        };
        vmRows.push(rowJson(row, vmDocJson(vm)));
      }
      if (vmRows.length > 0) await trx.executeQuery(CompiledQuery.raw(UPSERT_VMS, [`[${vmRows.join(',')}]`]));
    }
    await projectProjects(events, trx);
    if (sink) {
      await sink.hosts(changes);
      const config = events.filter((e) => e.streamId === inventoryEvents.HARDWARE_CONFIG_STREAM).at(-1);
      if (config !== undefined && isStored(config, 'HardwareConfigApplied')) await sink.hardwareConfig(config.data.config);
      const last = events.at(-1);
      if (last) await sink.position(positionOf(last));
    }
    if (afterBatch) await afterBatch(events, new Map(touched), trx);
  };
}
