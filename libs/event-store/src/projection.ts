import { sql } from 'kysely';
import { ValidationError } from '@berth/errors';
import { readCheckpoint, writeCheckpoint } from './checkpoints.ts';
import { startTailingLoop, type TailingLoop } from './loop.ts';
import { heldBackAfter, parsedEvent, readAllEvents } from './global-read.ts';
import type { PostgresEventStore } from './store.ts';
import { positionOf, type GlobalPosition, type StoredEvent } from './types.ts';
import type { LoopLogger } from './wakeup.ts';
import type { AnyKysely, AnyTransaction } from './db.ts';

export interface ProjectionOptions {
  readonly store: PostgresEventStore;
  /** The database of the read model; must be the store's (default `store.db`). */
  readonly db?: AnyKysely;
  /** Checkpoint name; one name = one projection. */
  readonly name: string;
  /**
   * Applies a batch to the read model through `trx`; the checkpoint commits in the same transaction.
   * `batch.follows` is true when the batch starts where this loop's previous batch committed (no other
   * replica applied one in between, none of this loop's failed): what the handler kept in memory from
   * earlier batches is still the read model's state. A failed batch rolls back; the next one does not follow.
   */
  readonly handle: (events: readonly StoredEvent[], trx: AnyTransaction, batch: { readonly follows: boolean }) => Promise<void>;
  readonly batchSize?: number;
  readonly pollMillis?: number;
  /** First retry delay after a failure (doubling, at most 30 s); default 250. */
  readonly retryMillis?: number;
  /**
   * Wait this long after a batch before reading the next (see LoopOptions.lingerMillis): a read model
   * that rewrites whole documents per batch writes each one once for all the events of the interval.
   */
  readonly lingerMillis?: number;
  readonly signal?: AbortSignal;
  readonly logger?: LoopLogger;
}

/**
 * Follows the global read into a read model. Each batch runs in one transaction holding an
 * advisory lock on the projection's name: read model and checkpoint move together, and two
 * replicas never apply the same batch. A failing batch rolls back and is retried with backoff.
 */
export function runProjection(opts: ProjectionOptions): TailingLoop {
  const db = opts.db ?? opts.store.db;
  const batchSize = opts.batchSize ?? 500;
  if (typeof opts.name !== 'string' || opts.name.length === 0)
    throw new ValidationError({ field: 'name', reason: 'must be a non-empty string' });
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new ValidationError({ field: 'batchSize', reason: 'must be a positive integer' });
  const schema = opts.store.schema;
  // The checkpoint this loop's last batch committed ('' before the first, or after a failure).
  let committed = '';
  const key = (p: { transactionId: string; position: string } | null): string =>
    p === null ? 'start' : `${p.transactionId}/${p.position}`;
  /**
   * The events after `after`, as the global read gives them now: what the relay of this store read
   * lately (RecentReads) holds of them, and the rest from Postgres. A relay's read may end before what
   * the log holds by now, and a batch that stopped there would leave the read model a linger further
   * behind (readers that refetch shortly after an event, like the console, would miss it).
   */
  const readBatch = async (trx: AnyTransaction, after: GlobalPosition | null): Promise<StoredEvent[]> => {
    const relayed = opts.store.recentReads.take(after, batchSize);
    if (relayed === undefined) return readAllEvents(trx, schema, { after, limit: batchSize });
    const events = relayed.map(parsedEvent);
    if (events.length < batchSize) {
      events.push(...(await readAllEvents(trx, schema, { after: positionOf(events.at(-1)!), limit: batchSize - events.length })));
    }
    return events;
  };
  return startTailingLoop(
    {
      db,
      channel: opts.store.channel,
      what: `projection ${opts.name}`,
      pollMillis: opts.pollMillis ?? 1000,
      retryMillis: opts.retryMillis,
      lingerMillis: opts.lingerMillis,
      signal: opts.signal,
      logger: opts.logger,
    },
    async () =>
      db
        .transaction()
        .execute(async (trx) => {
          await sql`SELECT pg_advisory_xact_lock(hashtext(${`berth-projection:${schema}.${opts.name}`}))`.execute(trx);
          const after = await readCheckpoint(trx, schema, opts.name);
          const events = (await readBatch(trx, after)).map(opts.store.evolution.upcast);
          const last = events.at(-1);
          if (last === undefined) return { count: 0, checkpoint: after, more: false, heldBack: await heldBackAfter(trx, schema, after) };
          const follows = committed === key(after);
          committed = '';
          await opts.handle(events, trx, { follows });
          await writeCheckpoint(trx, schema, opts.name, positionOf(last));
          const more = events.length === batchSize;
          const heldBack = !more && (await heldBackAfter(trx, schema, positionOf(last)));
          return { count: events.length, checkpoint: positionOf(last), more, heldBack };
        })
        .then((r) => {
          // Only once the transaction committed does the next batch follow this one.
          if (r.count > 0) committed = key(r.checkpoint);
          return r;
        }),
  );
}
