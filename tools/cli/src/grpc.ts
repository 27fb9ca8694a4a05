import * as grpc from '@grpc/grpc-js';
import { inventoryV1, schedulerV1 } from '@berth/contracts';

/** The gRPC side of the CLI: two lazily created clients, promisified calls, readable errors. */

export interface Endpoints {
  readonly inventory: string;
  readonly scheduler: string;
  readonly timeoutMillis: number;
}

export interface Backends {
  readonly endpoints: Endpoints;
  inventory(): inventoryV1.InventoryServiceClient;
  scheduler(): schedulerV1.SchedulerServiceClient;
  close(): void;
}

export function connectBackends(endpoints: Endpoints): Backends {
  let inventory: inventoryV1.InventoryServiceClient | undefined;
  let scheduler: schedulerV1.SchedulerServiceClient | undefined;
  const credentials = grpc.credentials.createInsecure();
  return {
    endpoints,
    inventory: () => (inventory ??= new inventoryV1.InventoryServiceClient(endpoints.inventory, credentials)),
    scheduler: () => (scheduler ??= new schedulerV1.SchedulerServiceClient(endpoints.scheduler, credentials)),
    close: () => {
      inventory?.close();
      scheduler?.close();
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type UnaryMethod<Req = any, Res = any> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;
type UnaryName<C> = { [K in keyof C]: C[K] extends UnaryMethod ? K : never }[keyof C];
type RequestOf<F> = F extends UnaryMethod<infer Req> ? Req : never;
type ResponseOf<F> = F extends UnaryMethod<never, infer Res> ? Res : never;

/** `await unary(client, 'getHost', { hostId }, 10_000)`. Rejects with a CallError naming the service. */
export function unary<C extends grpc.Client, K extends UnaryName<C>>(
  client: C,
  method: K,
  request: RequestOf<C[K]>,
  timeoutMillis: number,
): Promise<ResponseOf<C[K]>> {
  const fn = client[method] as unknown as UnaryMethod<RequestOf<C[K]>, ResponseOf<C[K]>>;
  return new Promise((resolve, reject) => {
    fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMillis }, (err, response) => {
      if (err) reject(new CallError(targetOf(client), String(method), err));
      else resolve(response);
    });
  });
}

export function targetOf(client: grpc.Client): string {
  return client.getChannel().getTarget().replace(/^dns:/, '');
}

/** Trailing metadata key the gRPC kit fills with `[{field, reason}]` on INVALID_ARGUMENT. */
const FIELD_VIOLATIONS_KEY = 'berth-field-violations-bin';

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
    this.violations = readViolations(cause);
  }

  /** What to print: the status, the server's message, and one line per field violation. */
  describe(): string {
    if (this.code === grpc.status.UNAVAILABLE) {
      return `cannot reach ${this.target} (${this.method}): is the service running? ` +
        '(set BERTH_INVENTORY_ADDR / BERTH_SCHEDULER_ADDR, or --inventory / --scheduler)';
    }
    if (this.code === grpc.status.DEADLINE_EXCEEDED) return `${this.method} timed out (--timeout to wait longer)`;
    const head = `${grpc.status[this.code]}: ${this.message}`;
    if (this.violations.length === 0) return head;
    return [`${grpc.status[this.code]}:`, ...this.violations.map((v) => `  ${v.field}: ${v.reason}`)].join('\n');
  }
}

function readViolations(err: grpc.ServiceError): { field: string; reason: string }[] {
  const [raw] = err.metadata?.get(FIELD_VIOLATIONS_KEY) ?? [];
  if (!Buffer.isBuffer(raw)) return [];
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    return Array.isArray(parsed) ? (parsed as { field: string; reason: string }[]) : [];
  } catch {
    return [];
  }
}
