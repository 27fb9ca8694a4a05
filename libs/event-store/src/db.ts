import type { Kysely, Transaction } from 'kysely';

// The store lives in the service's own database next to tables it cannot know, so it accepts a
// Kysely of any schema (callers pass their Kysely<DB>) and types its own rows itself.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyDatabase = any;
export type AnyKysely = Kysely<AnyDatabase>;
export type AnyTransaction = Transaction<AnyDatabase>;
/* eslint-enable @typescript-eslint/no-explicit-any */
