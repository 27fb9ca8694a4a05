import { sql } from 'kysely';
import type { GlobalPosition } from './types.ts';
import { eventStoreView, type AnyKysely } from './db.ts';

/** The saved position of a projection or relay, or null when it has not started. */
export async function readCheckpoint(db: AnyKysely, schema: string, name: string): Promise<GlobalPosition | null> {
  const row = await eventStoreView(db)
    .withSchema(schema)
    .selectFrom('checkpoints')
    .select([sql<string>`transaction_id::text`.as('transaction_id'), sql<string>`position::text`.as('position')])
    .where('name', '=', name)
    .executeTakeFirst();
  return row === undefined ? null : { transactionId: row.transaction_id, position: row.position };
}

/** Saves a checkpoint; it only ever moves forward, so a stale writer cannot rewind it. */
export async function writeCheckpoint(db: AnyKysely, schema: string, name: string, at: GlobalPosition): Promise<void> {
  await sql`
    INSERT INTO ${sql.table(`${schema}.checkpoints`)} AS c (name, transaction_id, position)
    VALUES (${name}, ${at.transactionId}::xid8, ${at.position}::bigint)
    ON CONFLICT (name) DO UPDATE SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()
    WHERE (c.transaction_id, c.position) < (excluded.transaction_id, excluded.position)`.execute(db);
}
