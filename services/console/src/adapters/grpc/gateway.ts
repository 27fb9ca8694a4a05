import * as grpc from '@grpc/grpc-js';
import { inventoryV1, migrationV1, schedulerV1, telemetryV1 } from '@berth/contracts';
import { callServerStream, createClient, fieldViolationsOf, isServiceError, type ClientTls } from '@berth/grpc-kit';
import { CONSOLE_METHODS, type ApiError, type ServiceName, type TimelineEntry } from '../../api.ts';

type AnyClient = grpc.Client & Record<string, unknown>;
type Codec = { fromPartial(o: unknown): unknown };

export interface GatewayOptions {
  readonly addresses: Readonly<Record<ServiceName, string | undefined>>;
  readonly deadlineMillis: number;
  readonly tls?: ClientTls;
}

/** What a call through the console answers: the generated response, or an error with its HTTP status. */
export type GatewayResult = { ok: true; body: unknown } | { ok: false; status: number; error: ApiError };

const modules = { inventory: inventoryV1, scheduler: schedulerV1, migration: migrationV1, telemetry: telemetryV1 } as const;
const ctors = {
  inventory: inventoryV1.InventoryServiceClient,
  scheduler: schedulerV1.SchedulerServiceClient,
  migration: migrationV1.MigrationServiceClient,
  telemetry: telemetryV1.TelemetryServiceClient,
} as const;

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
 * methods of CONSOLE_METHODS pass; a request is normalised with its generated `fromPartial` (so a
 * browser may leave defaults out), and the service validates it as for any other caller.
 */
export class GrpcGateway {
  private readonly clients = new Map<ServiceName, AnyClient>();
  private readonly codecs = new Map<string, Codec>();

  constructor(private readonly options: GatewayOptions) {
    for (const service of Object.keys(CONSOLE_METHODS) as ServiceName[]) {
      const address = options.addresses[service];
      if (address === undefined) continue;
      this.clients.set(
        service,
        createClient(
          ctors[service] as unknown as new (
            address: string,
            credentials: grpc.ChannelCredentials,
            options?: grpc.ClientOptions,
          ) => AnyClient,
          address,
          {
            deadlineMillis: options.deadlineMillis,
            ...(options.tls ? { tls: options.tls } : {}),
          },
        ),
      );
      for (const method of CONSOLE_METHODS[service]) {
        const name = `${method[0]!.toUpperCase()}${method.slice(1)}Request`;
        const codec = (modules[service] as unknown as Record<string, Codec | undefined>)[name];
        if (typeof codec?.fromPartial !== 'function') throw new Error(`${service}.${method}: no generated ${name}`);
        this.codecs.set(`${service}/${method}`, codec);
      }
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
    const codec = this.codecs.get(`${service}/${method}`);
    const client = this.clients.get(service as ServiceName);
    if (!codec || !client) {
      const known = service in CONSOLE_METHODS;
      return fail(
        404,
        'NOT_FOUND',
        known && !client ? `the console is not connected to ${service}` : `no method ${service}/${method} in the console API`,
      );
    }
    let request: unknown;
    try {
      request = codec.fromPartial(body ?? {});
    } catch (e) {
      return fail(400, 'INVALID_ARGUMENT', `request body: ${e instanceof Error ? e.message : String(e)}`);
    }
    const fn = client[method] as (
      r: unknown,
      m: grpc.Metadata,
      o: grpc.CallOptions,
      cb: (e: grpc.ServiceError | null, r: unknown) => void,
    ) => void;
    return new Promise((resolve) => {
      fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + this.options.deadlineMillis }, (err, response) =>
        resolve(err ? fromServiceError(err) : { ok: true, body: response }),
      );
    });
  }

  /** The VM's events from the start up to `version` (its current stream position), through WatchVm. */
  async timeline(vmId: string, version: number): Promise<TimelineEntry[]> {
    const client = this.clients.get('inventory') as unknown as InstanceType<typeof inventoryV1.InventoryServiceClient>;
    const out: TimelineEntry[] = [];
    if (version <= 0) return out;
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
