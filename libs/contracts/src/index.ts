export * from './events/envelope.ts';
export * as modelV1 from './model-v1.ts';
export * as inventoryV1 from './inventory-v1.ts';
export * as inventoryEvents from './events/inventory.ts';
export type * as eventModel from './events/model.ts';
export * as googleRpc from './google-rpc.ts';
export * as grpcHealthV1 from './gen/grpc/health/v1/health.ts';
export * as grpcReflectionV1 from './gen/grpc/reflection/v1/reflection.ts';
export * as grpcReflectionV1alpha from './gen/grpc/reflection/v1alpha/reflection.ts';
export * as testingV1 from './gen/berth/testing/v1/echo.ts';
export * as schedulerV1 from './gen/berth/scheduler/v1/scheduler.ts';
export * as executorEvents from './events/executor.ts';
export * as executorV1 from './gen/berth/executor/v1/executor.ts';
export * as telemetryV1 from './gen/berth/telemetry/v1/telemetry.ts';
export * as telemetry from './telemetry.ts';
export * as telemetryInput from './telemetry-input.ts';
export * as migrationEvents from './events/migration.ts';
export type * as evacuationEvents from './events/evacuation.ts';
export type * as telemetryEvents from './events/telemetry.ts';
export * as migrationV1 from './gen/berth/migration/v1/migration_service.ts';
export * as eventSchemas from './events/schemas/index.ts';
export {
  eventCatalog,
  decodeEvent,
  currentVersion,
  storedEventEvolution,
  withFormerNames,
  type StoredEventEvolution,
  type VersionedEvent,
  type EventCatalog,
  type EventDefinition,
  type Upcaster,
  type DecodedEvent,
} from './events/schemas/index.ts';
export { eventGuard, isExecutorEvent, isInventoryEvent, isMigrationEvent } from './events/schemas/index.ts';
