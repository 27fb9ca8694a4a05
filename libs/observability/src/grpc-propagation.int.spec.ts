/**
 * `none` with instrumentations: the gRPC server side is PropagatingGrpcInstrumentation's (context
 * extracted, one span, nothing else), the client side GrpcInstrumentation's. Real grpc-js server and
 * client on loopback; grpc-js is already loaded when the SDK starts, as in a test runner.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, trace, type Context } from '@opentelemetry/api';
import { extractTraceContext, traceHeadersOf } from './propagation.ts';
import { startObservability, type Observability } from './sdk.ts';
import { activeTraceIds, withSpan } from './spans.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const UPSTREAM_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

/** What a handler saw of its context. */
interface Seen {
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  readonly recording: boolean | undefined;
  /** `traceparent` a call made from inside the handler would carry. */
  readonly forwarded: string | undefined;
  /** Parent of a span the handler starts. */
  readonly childParent: string | undefined;
  readonly baggage: string | undefined;
  /** Whether the call object got own `on`/`sendMetadata` (the stock server patch binds and wraps them). */
  readonly callPatched: boolean;
}

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString()) as unknown,
};
const method = (path: string, responseStream: boolean): grpc.MethodDefinition<unknown, unknown> => ({
  path,
  requestStream: false,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
const definition: grpc.ServiceDefinition = {
  probe: method('/berth.test.v1.Probe/Probe', false),
  probeStream: method('/berth.test.v1.Probe/ProbeStream', true),
};

async function seen(call: object): Promise<Seen> {
  const span = trace.getActiveSpan();
  const childParent = await withSpan('inside', (child) =>
    'parentSpanContext' in child ? (child as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId : undefined,
  );
  return {
    traceId: activeTraceIds()?.trace_id,
    spanId: activeTraceIds()?.span_id,
    recording: span?.isRecording(),
    forwarded: traceHeadersOf()['traceparent'],
    childParent,
    baggage: propagation.getActiveBaggage()?.getEntry('tenant')?.value,
    callPatched: Object.hasOwn(call, 'on') || Object.hasOwn(call, 'sendMetadata'),
  };
}

describe('gRPC server propagation with the none exporter', () => {
  let obs: Observability;
  let server: grpc.Server;
  let client: grpc.Client & {
    probe(req: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Seen) => void): grpc.ClientUnaryCall;
    probeStream(req: unknown, md: grpc.Metadata): grpc.ClientReadableStream<Seen>;
  };

  beforeAll(async () => {
    obs = startObservability({ serviceName: 'grpc-none-test', exporter: 'none' });
    server = new grpc.Server();
    server.addService(definition, {
      probe: (call: grpc.ServerUnaryCall<unknown, Seen>, callback: grpc.sendUnaryData<Seen>) => {
        void seen(call).then(
          (s) => callback(null, s),
          (e: Error) => callback(e),
        );
      },
      probeStream: (call: grpc.ServerWritableStream<unknown, Seen>) => {
        void seen(call).then((s) => {
          call.write(s);
          call.end();
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const Client = grpc.makeGenericClientConstructor(definition, 'Probe');
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
  });

  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await obs.shutdown();
  });

  const probe = (parent: Context, md = new grpc.Metadata()): Promise<Seen> =>
    context.with(parent, () => new Promise<Seen>((resolve, reject) => client.probe({}, md, (e, r) => (e ? reject(e) : resolve(r)))));

  const probeStream = (parent: Context): Promise<Seen> =>
    context.with(parent, () => {
      const stream = client.probeStream({}, new grpc.Metadata());
      return new Promise<Seen>((resolve, reject) => {
        stream.once('data', resolve);
        stream.once('error', reject);
      });
    });

  it("runs an unsampled call under a non-recording span of the caller's trace, forwarded unsampled", async () => {
    const s = await probe(extractTraceContext({ traceparent: `00-${TRACE}-${UPSTREAM_SPAN}-00` }));
    expect(s.recording).toBe(false);
    expect(s.traceId).toBe(TRACE);
    expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(s.spanId).not.toBe(UPSTREAM_SPAN);
    expect(s.forwarded).toBe(`00-${TRACE}-${s.spanId}-00`);
    expect(s.callPatched).toBe(false);
  });

  it('records a call whose caller sampled its trace and forwards it sampled, its own span as parent', async () => {
    const s = await probe(extractTraceContext({ traceparent: `00-${TRACE}-${UPSTREAM_SPAN}-01` }));
    expect(s.recording).toBe(true);
    expect(s.traceId).toBe(TRACE);
    expect(s.forwarded).toBe(`00-${TRACE}-${s.spanId}-01`);
    expect(s.childParent).toBe(s.spanId);
  });

  it('gives a call without trace context fresh ids for its logs', async () => {
    const s = await probe(extractTraceContext({}));
    expect(s.recording).toBe(false);
    expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(s.traceId).not.toBe(TRACE);
    const [, traceId, spanId, flags] = TRACEPARENT.exec(s.forwarded ?? '') ?? [];
    expect({ traceId, spanId, flags }).toEqual({ traceId: s.traceId, spanId: s.spanId, flags: '00' });
  });

  it('extracts with the global propagator: W3C baggage arrives too', async () => {
    const md = new grpc.Metadata();
    md.set('baggage', 'tenant=acme');
    const s = await probe(extractTraceContext({ traceparent: `00-${TRACE}-${UPSTREAM_SPAN}-00` }), md);
    expect(s.baggage).toBe('acme');
    expect(s.traceId).toBe(TRACE);
  });

  it('propagates into server-streaming handlers', async () => {
    const s = await probeStream(extractTraceContext({ traceparent: `00-${TRACE}-${UPSTREAM_SPAN}-01` }));
    expect(s.traceId).toBe(TRACE);
    expect(s.recording).toBe(true);
    expect(s.forwarded).toBe(`00-${TRACE}-${s.spanId}-01`);
    const unsampled = await probeStream(extractTraceContext({ traceparent: `00-${TRACE}-${UPSTREAM_SPAN}-00` }));
    expect(unsampled.recording).toBe(false);
    expect(unsampled.forwarded).toBe(`00-${TRACE}-${unsampled.spanId}-00`);
  });
});
