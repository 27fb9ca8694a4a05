import { sql } from 'kysely';
import type { AnyTransaction, StoredEvent } from '@berth/event-store';
import { withUsage, type ProjectQuota, type ProjectTotals } from '../../domain/project/state.ts';
import { isStored } from '../../application/streams.ts';
import { NO_USAGE, type ReadModelTables } from './read-model.ts';

interface ProjectDoc {
  project: string;
  description: string;
  quota: ProjectQuota;
  usage: ProjectTotals;
  version: number;
}

function apply(doc: ProjectDoc, e: StoredEvent): ProjectDoc {
  const d = { ...doc, version: e.streamPosition };
  if (isStored(e, 'ProjectCreated')) return { ...d, description: e.data.description };
  if (isStored(e, 'ProjectQuotaSet')) return { ...d, quota: e.data.quota };
  if (isStored(e, 'ProjectVmAdmitted')) return { ...d, usage: withUsage(d.usage, e.data.usage, 1) };
  if (isStored(e, 'ProjectVmReleased')) return { ...d, usage: withUsage(d.usage, e.data.usage, -1) };
  return d;
}

/**
 * Projects (description, quota, usage totals kept incrementally: a project's VMs are not copied into
 * its row) and identity bindings, in the read-model projection's transaction. Idempotent on a retried
 * batch: events at or below a row's version were applied already; bindings are set operations.
 */
export async function projectProjects(events: readonly StoredEvent[], trx: AnyTransaction): Promise<void> {
  const db = trx.withTables<ReadModelTables>();
  const projectEvents = events.filter((e) => e.streamId.startsWith('project-'));
  if (projectEvents.length > 0) {
    const names = [...new Set(projectEvents.map((e) => e.streamId.slice('project-'.length)))];
    const rows: ProjectDoc[] = await db.selectFrom('inventory_projects').selectAll().where('project', 'in', names).execute();
    const docs = new Map(rows.map((r) => [r.project, { ...r, version: Number(r.version) }]));
    for (const e of projectEvents) {
      const name = e.streamId.slice('project-'.length);
      const doc = docs.get(name) ?? { project: name, description: '', quota: { devices: {} }, usage: NO_USAGE, version: 0 };
      if (e.streamPosition > doc.version) docs.set(name, apply(doc, e));
    }
    const values = [...docs.values()].map((d) => ({ ...d, quota: JSON.stringify(d.quota), usage: JSON.stringify(d.usage) }));
    await db
      .insertInto('inventory_projects')
      .values(values)
      .onConflict((oc) =>
        oc.column('project').doUpdateSet({
          description: sql.ref('excluded.description'),
          quota: sql.ref('excluded.quota'),
          usage: sql.ref('excluded.usage'),
          version: sql.ref('excluded.version'),
        }),
      )
      .execute();
  }
  for (const e of events) {
    if (isStored(e, 'IdentityBound')) {
      const { identity, project } = e.data;
      await db
        .insertInto('inventory_identity_bindings')
        .values({ identity, project })
        .onConflict((oc) => oc.doNothing())
        .execute();
    } else if (isStored(e, 'IdentityUnbound')) {
      const { identity, project } = e.data;
      await db.deleteFrom('inventory_identity_bindings').where('identity', '=', identity).where('project', '=', project).execute();
    }
  }
}
