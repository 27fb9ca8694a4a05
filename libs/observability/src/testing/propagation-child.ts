/**
 * Run as its own process by register.int.spec.ts: starts observability the way a service's main.ts
 * does (`@berth/observability/register` first), then imports grpc-js as a service would and makes
 * one call to a server in this process. Prints, as one JSON line, the trace id the client's span
 * had, the one the server's handler ran under, whether the client sent a `traceparent`, and
 * whether grpc-js was patched.
 */
import '../register.ts';
import * as grpc from '@grpc/grpc-js';
import { context, trace } from '@opentelemetry/api';
import { withSpan } from '../spans.ts';

const service = {
  ping: {
    path: '/test.Ping/Ping',
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: (v: Buffer) => v,
    responseSerialize: (v: Buffer) => v,
    responseDeserialize: (v: Buffer) => v,
  },
} satisfies grpc.ServiceDefinition;

const server = new grpc.Server();
let seen: { traceId: string | undefined; traceparent: string | undefined } = { traceId: undefined, traceparent: undefined };
server.addService(service, {
  ping: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    seen = { traceId: trace.getSpanContext(context.active())?.traceId, traceparent: call.metadata.get('traceparent')[0]?.toString() };
    cb(null, Buffer.from('pong'));
  },
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
);
const Client = grpc.makeGenericClientConstructor(service, 'Ping');
const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  ping(req: Buffer, cb: (e: grpc.ServiceError | null) => void): void;
};
const sent = await withSpan('client', async (span) => {
  await new Promise<void>((resolve, reject) => client.ping(Buffer.from('ping'), (e) => (e ? reject(e) : resolve())));
  return span.spanContext().traceId;
});
const wrapped = (f: unknown): boolean => typeof f === 'function' && '__wrapped' in f;
console.log(
  JSON.stringify({
    sent,
    ...seen,
    patched: {
      serverRegister: wrapped(Reflect.get(grpc.Server.prototype, 'register')),
      clientConstructor: wrapped(grpc.makeGenericClientConstructor),
    },
  }),
);
client.close();
server.forceShutdown();
process.exit(0);
