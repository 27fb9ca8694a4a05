export * from './events/envelope.ts';
export * as inventoryV1 from './inventory-v1.ts';
export * as inventoryEvents from './events/inventory.ts';
export * as grpcHealthV1 from './gen/grpc/health/v1/health.ts';
export * as grpcReflectionV1 from './gen/grpc/reflection/v1/reflection.ts';
export * as grpcReflectionV1alpha from './gen/grpc/reflection/v1alpha/reflection.ts';
export * as testingV1 from './gen/berth/testing/v1/echo.ts';
export * as schedulerV1 from './gen/berth/scheduler/v1/scheduler.ts';
export * as executorEvents from './events/executor.ts';
