import { ValidationError } from '@berth/errors';
import { readCheckpoint, writeCheckpoint } from './checkpoints.ts';
import { startTailingLoop, type TailingLoop } from './loop.ts';
import type { PostgresEventStore } from './store.ts';
import { heldBackAfter } from './global-read.ts';
import { positionOf, type GlobalPosition, type StoredEvent } from './types.ts';
import type { LoopLogger } from './wakeup.ts';
import type { AnyKysely } from './db.ts';

export interface RelayOptions {
  readonly store: PostgresEventStore;
  /** Database holding the relay's checkpoint; default `store.db`. */
  readonly db?: AnyKysely;
  /** Checkpoint name, e.g. `relay-jetstream`. */
  readonly name: string;
  /** Publishes one event and resolves once the bus acknowledged it (messaging's createEventPublisher). */
  readonly publish: (e: StoredEvent) => Promise<void>;
  /** Events read, published concurrently and acknowledged per checkpoint step; default 1000. */
  readonly batchSize?: number;
  readonly pollMillis?: number;
  /** First retry delay after a failure (doubling, at most 30 s); default 250. */
  readonly retryMillis?: number;
  readonly signal?: AbortSignal;
  readonly logger?: LoopLogger;
}

/**
 * The outbox relay: tails the global read, publishes a batch with every publish in flight, and
 * advances its checkpoint only after all of them were acknowledged. After a crash it publishes
 * again from the checkpoint, so delivery is at-least-once; the bus deduplicates on the event id.
 */
export function startRelay(opts: RelayOptions): TailingLoop {
  const db = opts.db ?? opts.store.db;
  const batchSize = opts.batchSize ?? 1000;
  if (typeof opts.name !== 'string' || opts.name.length === 0) throw new ValidationError({ field: 'name', reason: 'must be a non-empty string' });
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ValidationError({ field: 'batchSize', reason: 'must be a positive integer' });
  const schema = opts.store.schema;
  let at: GlobalPosition | null | undefined;
  // The next batch is read while this one is on the wire; dropped if this one fails.
  let prefetched: Promise<StoredEvent[]> | undefined;
  return startTailingLoop(
    { db, channel: opts.store.channel, what: `relay ${opts.name}`, pollMillis: opts.pollMillis ?? 1000, retryMillis: opts.retryMillis, signal: opts.signal, logger: opts.logger },
    async () => {
      at ??= await readCheckpoint(db, schema, opts.name);
      const events = await (prefetched ?? opts.store.readAll({ after: at, limit: batchSize }));
      prefetched = undefined;
      const last = events.at(-1);
      if (last === undefined) return { count: 0, checkpoint: at, more: false, heldBack: await heldBackAfter(opts.store.db, schema, at) };
      const more = events.length === batchSize;
      if (more) {
        prefetched = opts.store.readAll({ after: positionOf(last), limit: batchSize });
        prefetched.catch(() => undefined); // a failure surfaces when it is awaited
      }
      try {
        await Promise.all(events.map(async (e) => opts.publish(e)));
        await writeCheckpoint(db, schema, opts.name, positionOf(last));
      } catch (err) {
        prefetched = undefined;
        throw err;
      }
      at = positionOf(last);
      return { count: events.length, checkpoint: at, more, heldBack: !more && (await heldBackAfter(opts.store.db, schema, at)) };
    },
  );
}
