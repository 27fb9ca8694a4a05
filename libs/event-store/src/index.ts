export * from './types.ts';
export type { AnyKysely, AnyTransaction, EventStoreTables } from './db.ts';
export {
  createKysely,
  migrateEventStore,
  eventStoreMigrations,
  notifyChannel,
  lz4Compression,
  type SchemaOptions,
  type CreateKyselyOptions,
} from './schema.ts';
export { PostgresEventStore, EventStoreTx } from './store.ts';
export { readCheckpoint, writeCheckpoint } from './checkpoints.ts';
export { toJson, MAX_EVENTS_PER_APPEND, MAX_STREAM_ID_LENGTH } from './validate.ts';
export { handleCommand, type DomainEvent, type HandleCommandOptions, type HandleCommandResult } from './handle-command.ts';
export { evolveStored, type StreamEventTypes } from './typed-events.ts';
export { runProjection, type ProjectionOptions } from './projection.ts';
export { startRelay, type RelayOptions } from './relay.ts';
export type { RawStoredEvent } from './global-read.ts';
export type { TailingLoop } from './loop.ts';
export type { LoopLogger } from './wakeup.ts';
export { aggregate, AggregateType, type Aggregate, type AnyAggregate, type Folded, type StreamRef } from './aggregate.ts';
export { CommandBatcher, type BatchCommand, type BatchCommandResult, type CommandBatcherOptions } from './batcher.ts';
export { ensureDatabase, provisionServiceDatabase, dropServiceDatabase, type ServiceDatabaseSpec } from './database.ts';
