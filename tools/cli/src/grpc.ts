import * as grpc from '@grpc/grpc-js';
import { inventoryV1, migrationV1, schedulerV1, telemetryV1 } from '@berth/contracts';
import { callUnary, createClient, fieldViolationsOf, isServiceError, type ClientTls, type UnaryMethodName } from '@berth/grpc-kit';

/** The gRPC side of the CLI: two lazily created clients, promisified calls, readable errors. */

export interface Endpoints {
  readonly inventory: string;
  readonly scheduler: string;
  /** Telemetry's address (default 127.0.0.1:50055). */
  readonly telemetry?: string;
  /** The migration service (default 127.0.0.1:50054). */
  readonly migration?: string;
  readonly timeoutMillis: number;
  /** Mutual TLS as the identity of this certificate (--tls-cert/--tls-key/--tls-ca or BERTH_TLS_*); plaintext when absent. */
  readonly tls?: ClientTls;
}

export interface Backends {
  readonly endpoints: Endpoints;
  inventory(): inventoryV1.InventoryServiceClient;
  scheduler(): schedulerV1.SchedulerServiceClient;
  telemetry?(): telemetryV1.TelemetryServiceClient;
  migration(): migrationV1.MigrationServiceClient;
  close(): void;
}

export function connectBackends(endpoints: Endpoints): Backends {
  let inventory: inventoryV1.InventoryServiceClient | undefined;
  let scheduler: schedulerV1.SchedulerServiceClient | undefined;
  let telemetry: telemetryV1.TelemetryServiceClient | undefined;
  let migration: migrationV1.MigrationServiceClient | undefined;
  // Explicit plaintext when no TLS was given: the CLI's identity comes from its flags or BERTH_TLS_*, read in cli.ts.
  const connect = <C extends grpc.Client>(Ctor: new (address: string, credentials: grpc.ChannelCredentials) => C, address: string): C =>
    endpoints.tls ? createClient(Ctor, address, { tls: endpoints.tls }) : new Ctor(address, grpc.credentials.createInsecure());
  return {
    endpoints,
    inventory: () => (inventory ??= connect(inventoryV1.InventoryServiceClient, endpoints.inventory)),
    scheduler: () => (scheduler ??= connect(schedulerV1.SchedulerServiceClient, endpoints.scheduler)),
    telemetry: () => (telemetry ??= connect(telemetryV1.TelemetryServiceClient, endpoints.telemetry ?? '127.0.0.1:50055')),
    migration: () => (migration ??= connect(migrationV1.MigrationServiceClient, endpoints.migration ?? '127.0.0.1:50054')),
    close: () => {
      inventory?.close();
      scheduler?.close();
      telemetry?.close();
      migration?.close();
    },
  };
}

/** `await unary(client, 'getHost', { hostId }, 10_000)`. Rejects with a CallError naming the service. */
export async function unary<C extends grpc.Client, K extends UnaryMethodName<C>>(
  client: C,
  method: K,
  request: Parameters<typeof callUnary<C, K>>[2],
  timeoutMillis: number,
): ReturnType<typeof callUnary<C, K>> {
  try {
    return await callUnary(client, method, request, { deadline: Date.now() + timeoutMillis });
  } catch (e) {
    throw isServiceError(e) ? new CallError(targetOf(client), String(method), e) : e;
  }
}

export function targetOf(client: grpc.Client): string {
  return client.getChannel().getTarget().replace(/^dns:/, '');
}

export class CallError extends Error {
  override readonly name = 'CallError';
  readonly code: grpc.status;
  readonly violations: readonly { field: string; reason: string }[];
  constructor(
    readonly target: string,
    readonly method: string,
    cause: grpc.ServiceError,
  ) {
    super(cause.details || cause.message);
    this.code = cause.code;
    this.violations = fieldViolationsOf(cause);
  }

  /** What to print: the status, the server's message, and one line per field violation. */
  describe(): string {
    if (this.code === grpc.status.UNAVAILABLE) {
      return (
        `cannot reach ${this.target} (${this.method}): is the service running? ` +
        '(set BERTH_INVENTORY_ADDR / BERTH_SCHEDULER_ADDR / BERTH_TELEMETRY_ADDR, or --inventory / --scheduler / --telemetry; ' +
        'with mutual TLS also BERTH_TLS_CERT / BERTH_TLS_KEY / BERTH_TLS_CA, or --tls-cert / --tls-key / --tls-ca)'
      );
    }
    if (this.code === grpc.status.DEADLINE_EXCEEDED) return `${this.method} timed out (--timeout to wait longer)`;
    const head = `${grpc.status[this.code]}: ${this.message}`;
    if (this.violations.length === 0) return head;
    return [`${grpc.status[this.code]}:`, ...this.violations.map((v) => `  ${v.field}: ${v.reason}`)].join('\n');
  }
}
