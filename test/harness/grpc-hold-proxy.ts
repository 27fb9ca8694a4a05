/**
 * A gRPC proxy in front of one real service, for crash tests of a caller that runs as a process:
 * every unary call passes through unchanged (bytes in, bytes out; in TLS mode the proxy serves with
 * the service's identity and calls it with the caller's, so the service authorises the caller as
 * usual), and one armed `HoldPoint` stops a chosen call there: before it reached the service, or
 * after the service answered (the answer withheld). The caller then hangs in that call, exactly at
 * that step, until the test SIGKILLs it (or the service) and calls `releaseAll()` (the held call
 * fails UNAVAILABLE, as a call to a dead process does), or lets it go on (`proceedAll()`: neither
 * side died). Several points may be armed at once (each stops the first call it matches), so one
 * SIGKILL can land on several calls, each at its own step.
 *
 *   const proxy = await startHoldProxy(inventoryV1.InventoryServiceService, inventory.address, 'migration', 'inventory');
 *   const reached = proxy.arm({ method: 'beginVmMigration', when: 'after', matches: (r) => r.vmId === 'vm-1' });
 *   ... await reached; kill the caller; proxy.releaseAll() ...
 *
 * `refuse(...)` makes matching calls fail at once (UNAVAILABLE: the service out of reach for them
 * alone) until stopped, so a caller's handler fails at each of its deliveries.
 */
import * as grpc from '@grpc/grpc-js';
import { testTlsEnabled, identityTls } from './tls.ts';

interface MethodDef {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestDeserialize: (b: Buffer) => unknown;
}

export interface HoldPoint {
  /** The method's name as in the generated service definition (`beginVmMigration`, `score`). */
  readonly method: string;
  readonly when: 'before' | 'after';
  /** Which call: the first whose decoded request matches. */
  readonly matches: (request: Record<string, unknown>) => boolean;
}

export interface Refusal {
  /** The method's name as in the generated service definition (`claimResourcesBatch`). */
  readonly method: string;
  readonly matches: (request: Record<string, unknown>) => boolean;
  /** The status the calls fail with (default UNAVAILABLE). */
  readonly code?: grpc.status;
}

export interface HoldProxy {
  /** `127.0.0.1:<port>`: give it to the caller as the service's address. */
  readonly address: string;
  /** Arms one hold (beside any armed already); resolves when a call reached it (and now hangs there). */
  arm(point: HoldPoint): Promise<void>;
  /** Until `stop()`, every matching call fails at once, never reaching the service; `refused()` counts them. */
  refuse(r: Refusal): { refused(): number; stop(): void };
  /** Held calls fail UNAVAILABLE (their caller or the service died); every hold is disarmed. */
  releaseAll(): void;
  /** Held calls go on as if never stopped (a `before` call reaches the service, an `after` answer is delivered); every hold is disarmed. */
  proceedAll(): void;
  close(): Promise<void>;
}

const identity = (b: Buffer): Buffer => b;

export async function startHoldProxy(
  definition: Readonly<Record<string, MethodDef>>,
  target: string,
  callerIdentity: string,
  serviceIdentity: string,
): Promise<HoldProxy> {
  const tls = testTlsEnabled();
  const pem = (p: unknown): Buffer => p as Buffer; // identityTls reads the files: Buffers
  const c = tls ? identityTls('service', callerIdentity) : undefined;
  const upstream = new grpc.Client(
    target,
    c ? grpc.credentials.createSsl(pem(c.ca), pem(c.key), pem(c.cert)) : grpc.credentials.createInsecure(),
  );
  let points: (HoldPoint & { reached: () => void })[] = [];
  const held: { fail: () => void; proceed: () => void }[] = [];
  const refusals = new Set<Refusal & { count: number }>();
  const refusalOf = (method: string, decode: () => unknown): (Refusal & { count: number }) | undefined => {
    for (const r of refusals) if (r.method === method && r.matches(decode() as Record<string, unknown>)) return r;
    return undefined;
  };
  const hold = async (method: string, when: 'before' | 'after', decode: () => unknown): Promise<void> => {
    const candidates = points.filter((p) => p.method === method && p.when === when);
    if (candidates.length === 0) return;
    const request = decode() as Record<string, unknown>;
    const p = candidates.find((c) => c.matches(request));
    if (p === undefined) return;
    points = points.filter((q) => q !== p);
    p.reached();
    await new Promise<void>((proceed, reject) => held.push({ fail: () => reject(new Error('held call of a crashed process')), proceed }));
  };
  const service: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(definition)) {
    if (m.requestStream || m.responseStream) continue;
    service[name] = {
      path: m.path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
    const handler: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
      void (async () => {
        const decode = (): unknown => m.requestDeserialize(call.request);
        const refusal = refusalOf(name, decode);
        if (refusal !== undefined) {
          refusal.count++;
          callback({ code: refusal.code ?? grpc.status.UNAVAILABLE, details: 'refused by the test proxy', metadata: new grpc.Metadata() });
          return;
        }
        try {
          await hold(name, 'before', decode);
          const deadline = call.getDeadline();
          const answer = await new Promise<Buffer>((resolve, reject) => {
            upstream.makeUnaryRequest(
              m.path,
              identity,
              identity,
              call.request,
              call.metadata,
              { deadline: deadline instanceof Date || typeof deadline === 'number' ? deadline : Infinity },
              (err, value) => (err ? reject(err) : resolve(value!)),
            );
          });
          await hold(name, 'after', decode);
          callback(null, answer);
        } catch (e) {
          const err = e as Partial<grpc.ServiceError>;
          callback({
            code: err.code ?? grpc.status.UNAVAILABLE,
            details: err.details ?? String(e),
            metadata: err.metadata ?? new grpc.Metadata(),
          });
        }
      })();
    };
    handlers[name] = handler;
  }
  const server = new grpc.Server();
  server.addService(service, handlers);
  const t = tls ? identityTls('service', serviceIdentity) : undefined;
  const credentials = t
    ? grpc.ServerCredentials.createSsl(pem(t.ca), [{ cert_chain: pem(t.cert), private_key: pem(t.key) }], true)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    arm(p) {
      return new Promise((reached) => points.push({ ...p, reached }));
    },
    refuse(r) {
      const entry = { ...r, count: 0 };
      refusals.add(entry);
      return { refused: () => entry.count, stop: () => void refusals.delete(entry) };
    },
    releaseAll() {
      points = [];
      for (const h of held.splice(0)) h.fail();
    },
    proceedAll() {
      points = [];
      for (const h of held.splice(0)) h.proceed();
    },
    async close() {
      points = [];
      for (const h of held.splice(0)) h.fail();
      server.forceShutdown();
      upstream.close();
    },
  };
}
