import type { Kysely, Transaction } from 'kysely';
import type { EventRow } from './rows.ts';

/**
 * The service's database as the store receives it: a Kysely (or one of its transactions) typed as
 * knowing none of the tables, because the store shares the database with tables it cannot know.
 * Each owner of tables views it through Kysely's `withTables<ItsTables>()`: the store with
 * `EventStoreTables` (below), a service's read model with its own. No owner's table types leak
 * into another's signatures, and nothing is cast.
 */
export type AnyKysely = Kysely<unknown>;
export type AnyTransaction = Transaction<unknown>;

/** The store's own tables (schema.ts creates them in the store's schema), as the pg driver returns their rows. */
export type EventStoreTables = {
  events: EventRow;
  streams: {
    readonly stream_id: string;
    readonly version: string;
    readonly last_transaction_id: string;
    readonly updated_at: Date;
  };
  command_results: {
    readonly command_id: string;
    readonly stream_id: string;
    readonly recorded_at: Date;
  };
  checkpoints: {
    readonly name: string;
    readonly transaction_id: string;
    readonly position: string;
    readonly updated_at: Date;
  };
};

/** The store's view of a shared database (or transaction): its own tables, typed. */
export type EventStoreDb = Kysely<EventStoreTables>;
export const eventStoreView = (db: AnyKysely): EventStoreDb => db.withTables<EventStoreTables>();
