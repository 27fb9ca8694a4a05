/**
 * The console's browser API, derived from the generated protos: every route is one gRPC method, and
 * its request and response types are the ts-proto types of that method (JSON over HTTP; forceLong=number
 * and useDate=false make those types plain JSON). This file names which methods the browser may call;
 * it does not describe them again.
 *
 *   POST /api/rpc/<service>/<method>   body: the request, answer: the response (or an ApiError)
 *   GET  /api/events                   text/event-stream of EventBatch
 */
import type { handleUnaryCall } from '@grpc/grpc-js';
import type { inventoryV1, migrationV1, schedulerV1, telemetry, telemetryV1 } from '@berth/contracts';

export const CONSOLE_METHODS = {
  inventory: ['listHosts', 'getHost', 'listVms', 'getVm', 'composeVm', 'deleteVm', 'startVm', 'stopVm', 'rebootVm', 'setHostState'],
  scheduler: ['score', 'explain', 'whatIf'],
  migration: [
    'migrateVm',
    'cancelMigration',
    'listMigrations',
    'getMigration',
    'listMigrationDestinations',
    'planEvacuation',
    'startEvacuation',
    'cancelEvacuation',
    'getEvacuation',
  ],
  telemetry: ['getHostTelemetry', 'listDecisions'],
} as const;

interface Servers {
  inventory: inventoryV1.InventoryServiceServer;
  scheduler: schedulerV1.SchedulerServiceServer;
  migration: migrationV1.MigrationServiceServer;
  telemetry: telemetryV1.TelemetryServiceServer;
}

export type ServiceName = keyof typeof CONSOLE_METHODS;
export type MethodName<S extends ServiceName> = (typeof CONSOLE_METHODS)[S][number];
type Handler<S extends ServiceName, M extends MethodName<S>> = M extends keyof Servers[S] ? Servers[S][M] : never;
/** The generated request type of a method. */
export type RequestOf<S extends ServiceName, M extends MethodName<S>> =
  Handler<S, M> extends handleUnaryCall<infer Req, unknown> ? Req : never;
/** The generated response type of a method. */
export type ResponseOf<S extends ServiceName, M extends MethodName<S>> =
  Handler<S, M> extends handleUnaryCall<never, infer Res> ? Res : never;

/** What a refused or failed call answers (HTTP 4xx/5xx): the gRPC status and, for bad input, the fields. */
export interface ApiError {
  readonly code: string;
  readonly message: string;
  readonly fieldViolations?: readonly { readonly field: string; readonly description: string }[];
}

/** One event as the browser sees it: the envelope's head and data, with the subject it came on. */
export interface ConsoleEvent {
  readonly subject: string;
  readonly type: string;
  readonly streamId: string;
  readonly occurredAt: string;
  readonly data: unknown;
}

/** What one SSE message carries: every event since the previous flush. */
export interface EventBatch {
  readonly sentAt: number;
  readonly events: readonly ConsoleEvent[];
  /** Events dropped because a slow browser fell behind (it should refetch). */
  readonly dropped: number;
}

/** GET /api/info: which services the console reaches, so the UI can say why an action is off. */
export interface ConsoleInfo {
  readonly services: Readonly<Record<ServiceName, boolean>>;
  readonly eventFlushMillis: number;
}

/**
 * GET /api/usage: measured usage per host id from the telemetry service (the `berth-host-usage` bucket's
 * HostUsage, the contract type), only readings younger than CONSOLE_USAGE_MAX_AGE. Empty without telemetry.
 */
export interface HostUsageAnswer {
  readonly hosts: Readonly<Record<string, telemetry.HostUsage>>;
}

/** GET /api/vms/<id>/timeline: the VM's own events (WatchVm) up to its current version. */
export interface TimelineEntry {
  readonly type: string;
  readonly occurredAt: string;
  readonly status: number;
  readonly hostId: string;
  readonly data: unknown;
}

/** What the browser may send: any part of the request (the console decodes it with the generated `fromJSON`, which fills the rest with defaults). */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
