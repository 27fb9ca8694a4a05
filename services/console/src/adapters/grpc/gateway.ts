import * as grpc from '@grpc/grpc-js';
import { inventoryV1, migrationV1, schedulerV1, telemetryV1 } from '@berth/contracts';
import { callServerStream, createClient, fieldViolationsOf, isServiceError, type ClientTls } from '@berth/grpc-kit';
import { CONSOLE_METHODS, type ApiError, type ServiceName, type TimelineEntry } from '../../api.ts';
import { routeOf, type PreparedCall } from './routes.ts';

type ClientCtor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => grpc.Client;

export interface GatewayOptions {
  readonly addresses: Readonly<Record<ServiceName, string | undefined>>;
  readonly deadlineMillis: number;
  readonly tls?: ClientTls;
}

/** What a call through the console answers: the generated response, or an error with its HTTP status. */
export type GatewayResult = { ok: true; body: unknown } | { ok: false; status: number; error: ApiError };

const ctors: { readonly [S in ServiceName]: ClientCtor } = {
  inventory: inventoryV1.InventoryServiceClient,
  scheduler: schedulerV1.SchedulerServiceClient,
  migration: migrationV1.MigrationServiceClient,
  telemetry: telemetryV1.TelemetryServiceClient,
};

const HTTP_OF: Partial<Record<number, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.OUT_OF_RANGE]: 400,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.ABORTED]: 409,
  [grpc.status.FAILED_PRECONDITION]: 412,
  [grpc.status.RESOURCE_EXHAUSTED]: 429,
  [grpc.status.UNIMPLEMENTED]: 501,
  [grpc.status.UNAVAILABLE]: 503,
  [grpc.status.DEADLINE_EXCEEDED]: 504,
};

/**
 * Forwards the browser's calls to the services' gRPC APIs with the generated clients. Only the
 * methods of CONSOLE_METHODS pass (the typed table in routes.ts); a request is decoded from JSON with its
 * generated `fromJSON` (so a browser may leave defaults out), and the service validates it as for any
 * other caller.
 */
export class GrpcGateway {
  private readonly clients = new Map<ServiceName, grpc.Client>();
  private readonly inventory: inventoryV1.InventoryServiceClient | undefined;

  constructor(private readonly options: GatewayOptions) {
    const clientOptions = { deadlineMillis: options.deadlineMillis, ...(options.tls ? { tls: options.tls } : {}) };
    const inventory = options.addresses.inventory;
    this.inventory = inventory === undefined ? undefined : createClient(inventoryV1.InventoryServiceClient, inventory, clientOptions);
    if (this.inventory) this.clients.set('inventory', this.inventory);
    for (const service of Object.keys(CONSOLE_METHODS) as ServiceName[]) {
      const address = options.addresses[service];
      if (address === undefined || this.clients.has(service)) continue;
      this.clients.set(service, createClient(ctors[service], address, clientOptions));
    }
  }

  available(): Record<ServiceName, boolean> {
    return {
      inventory: this.clients.has('inventory'),
      scheduler: this.clients.has('scheduler'),
      migration: this.clients.has('migration'),
      telemetry: this.clients.has('telemetry'),
    };
  }

  async call(service: string, method: string, body: unknown): Promise<GatewayResult> {
    const found = routeOf(service, method);
    const client = found && this.clients.get(found.service);
    if (!found || !client) {
      const known = service in CONSOLE_METHODS;
      return fail(
        404,
        'NOT_FOUND',
        known && found ? `the console is not connected to ${service}` : `no method ${service}/${method} in the console API`,
      );
    }
    let call: PreparedCall;
    try {
      call = found.route.prepare(body);
    } catch (e) {
      return fail(400, 'INVALID_ARGUMENT', `request body: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      return { ok: true, body: await call(client, { deadline: Date.now() + this.options.deadlineMillis }) };
    } catch (e) {
      return fromServiceError(e);
    }
  }

  /** The VM's events from the start up to `version` (its current stream position), through WatchVm. */
  async timeline(vmId: string, version: number): Promise<TimelineEntry[]> {
    const client = this.inventory;
    const out: TimelineEntry[] = [];
    if (version <= 0 || !client) return out;
    for await (const r of callServerStream(
      client,
      'watchVm',
      { vmId, fromPosition: 0 },
      { deadline: Date.now() + this.options.deadlineMillis },
    )) {
      const e = r.event;
      if (!e) continue;
      out.push({
        type: e.type,
        occurredAt: e.occurredAt,
        status: e.vm?.status ?? 0,
        hostId: e.vm?.hostId ?? '',
        data: safeJson(e.dataJson),
      });
      if (e.streamPosition >= version) break;
    }
    return out;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}

const fail = (status: number, code: string, message: string): GatewayResult => ({ ok: false, status, error: { code, message } });

export function fromServiceError(err: unknown): GatewayResult {
  if (!isServiceError(err)) return fail(500, 'INTERNAL', err instanceof Error ? err.message : String(err));
  const violations = fieldViolationsOf(err).map((v) => ({ field: v.field, description: v.reason }));
  return {
    ok: false,
    status: HTTP_OF[err.code] ?? 500,
    error: {
      code: grpc.status[err.code] ?? 'UNKNOWN',
      message: err.details || err.message,
      ...(violations.length ? { fieldViolations: violations } : {}),
    },
  };
}
