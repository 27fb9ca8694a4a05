import { ValidationError } from '@berth/errors';
import { readCheckpoint, writeCheckpoint } from './checkpoints.ts';
import { startTailingLoop, type TailingLoop } from './loop.ts';
import type { PostgresEventStore } from './store.ts';
import { heldBackAfter, readAllRawEvents, type RawStoredEvent } from './global-read.ts';
import { positionOf, type GlobalPosition, type StoredEvent } from './types.ts';
import type { LoopLogger } from './wakeup.ts';
import type { AnyKysely } from './db.ts';

interface RelayCommonOptions {
  readonly store: PostgresEventStore;
  /** Database holding the relay's checkpoint; default `store.db`. */
  readonly db?: AnyKysely;
  /** Checkpoint name, e.g. `relay-jetstream`. */
  readonly name: string;
  /** Events read, published concurrently and acknowledged per checkpoint step; default 1000. */
  readonly batchSize?: number;
  readonly pollMillis?: number;
  /** First retry delay after a failure (doubling, at most 30 s); default 250. */
  readonly retryMillis?: number;
  readonly signal?: AbortSignal;
  readonly logger?: LoopLogger;
  /**
   * The ids of the newest `count` messages the bus holds from this relay (`count` = batchSize). Read
   * whenever the relay resumes from its checkpoint (at start-up, and after a failed batch): the batch
   * it resumes with is the one that may have been partly published, and events of it found there are
   * not published again. Without it a republish is dropped only by the bus's own deduplication
   * (JetStream's duplicate window). It covers the resumed batch when the relay is the only publisher
   * of its stream and the batch size is unchanged.
   */
  readonly alreadyPublished?: (count: number) => Promise<Iterable<string>>;
}

/** Exactly one of `publish` and `publishRaw`. */
export type RelayOptions = RelayCommonOptions &
  (
    | {
        /** Publishes one event and resolves once the bus acknowledged it. */
        readonly publish: (e: StoredEvent) => Promise<void>;
        readonly publishRaw?: undefined;
      }
    | {
        /**
         * Like `publish`, but the event carries its data as the JSON text Postgres holds (`dataJson`)
         * instead of parsed `data`: nothing parses or re-serialises it on the way to the bus.
         * Messaging's createEventPublisher takes these and builds the message body around the text.
         */
        readonly publishRaw: (e: RawStoredEvent) => Promise<void>;
        readonly publish?: undefined;
      }
  );

type Positioned = Pick<StoredEvent, 'id' | 'transactionId' | 'globalPosition'>;

/**
 * The outbox relay: tails the global read, publishes a batch with every publish in flight, and
 * advances its checkpoint only after all of them were acknowledged. After a crash (or a failed batch)
 * it resumes from the checkpoint: the events of that batch already on the bus (`alreadyPublished`,
 * read back first) are skipped, and the bus deduplicates on the event id within its window.
 */
export function startRelay(opts: RelayOptions): TailingLoop {
  const batchSize = opts.batchSize ?? 1000;
  if (typeof opts.name !== 'string' || opts.name.length === 0)
    throw new ValidationError({ field: 'name', reason: 'must be a non-empty string' });
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new ValidationError({ field: 'batchSize', reason: 'must be a positive integer' });
  if ((opts.publish === undefined) === (opts.publishRaw === undefined)) {
    throw new ValidationError({ field: 'publish', reason: 'give exactly one of publish and publishRaw' });
  }
  const { store } = opts;
  if (opts.publishRaw !== undefined) {
    return relayLoop(
      opts,
      batchSize,
      async (after) => {
        const events = await readAllRawEvents(store.db, store.schema, { after, limit: batchSize });
        store.recentReads.remember(after, events); // for the store's projection (RecentReads)
        return events;
      },
      opts.publishRaw,
    );
  }
  return relayLoop(opts, batchSize, async (after) => store.readAll({ after, limit: batchSize }), opts.publish);
}

function relayLoop<E extends Positioned>(
  opts: RelayCommonOptions,
  batchSize: number,
  read: (after: GlobalPosition | null) => Promise<E[]>,
  publish: (e: E) => Promise<void>,
): TailingLoop {
  const db = opts.db ?? opts.store.db;
  const schema = opts.store.schema;
  let at: GlobalPosition | null | undefined;
  // The next batch is read while this one is on the wire; dropped if this one fails.
  let prefetched: Promise<E[]> | undefined;
  // Resuming from the checkpoint: the bus's newest ids are read before the first batch is published.
  let resuming = true;
  let onBus: ReadonlySet<string> | undefined;
  return startTailingLoop(
    {
      db,
      channel: opts.store.channel,
      what: `relay ${opts.name}`,
      pollMillis: opts.pollMillis ?? 1000,
      retryMillis: opts.retryMillis,
      signal: opts.signal,
      logger: opts.logger,
    },
    async () => {
      at ??= await readCheckpoint(db, schema, opts.name);
      if (resuming && opts.alreadyPublished !== undefined) onBus = new Set(await opts.alreadyPublished(batchSize));
      resuming = false;
      const events = await (prefetched ?? read(at));
      prefetched = undefined;
      const last = events.at(-1);
      if (last === undefined) return { count: 0, checkpoint: at, more: false, heldBack: await heldBackAfter(opts.store.db, schema, at) };
      const more = events.length === batchSize;
      if (more) {
        prefetched = read(positionOf(last));
        prefetched.catch(() => undefined); // a failure surfaces when it is awaited
      }
      try {
        const seen = onBus;
        await Promise.all(events.map(async (e) => (seen?.has(e.id) === true ? undefined : publish(e))));
        await writeCheckpoint(db, schema, opts.name, positionOf(last));
      } catch (err) {
        prefetched = undefined;
        resuming = true;
        throw err;
      }
      // Only the batch resumed with can hold events published before: later ones are new.
      onBus = undefined;
      at = positionOf(last);
      return { count: events.length, checkpoint: at, more, heldBack: !more && (await heldBackAfter(opts.store.db, schema, at)) };
    },
  );
}
