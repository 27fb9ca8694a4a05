/**
 * The trace chain: one trace runs gRPC -> append -> publish -> consume. A tiny EchoService
 * (grpc-kit) appends an event (event-store), the relay publishes it (this package), a consumer gets it.
 * grpc-js and pg are already loaded when the SDK starts here; startObservability patches them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { createTestDatabase, deletePrefixedStreams, infraAvailable, natsUrl, type TestDatabase, testSubjectPrefix } from '@berth/testing';
import { startObservability, type Observability } from '@berth/observability';
import { testingV1, type EventEnvelope } from '@berth/contracts';
import { createGrpcServer, unary, serverStream, createClient, callUnary } from '@berth/grpc-kit';
import { createKysely, migrateEventStore, PostgresEventStore, startRelay } from '@berth/event-store';
import { connectNats, ensureStreams, createEventPublisher, startConsumer, ack } from './index.ts';

type Cleanup = () => Promise<void>;

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('trace chain gRPC -> append -> publish -> consume', () => {
  const prefix = testSubjectPrefix('tx');
  const cleanups: Cleanup[] = [];
  const received: EventEnvelope[] = [];
  let obs: Observability;
  let tdb: TestDatabase;
  let call: (message: string) => Promise<unknown>;

  beforeAll(async () => {
    obs = startObservability({ serviceName: 'trace-chain-test', exporter: 'memory' });
    cleanups.push(() => obs.shutdown());

    tdb = await createTestDatabase('trace_chain');
    cleanups.unshift(() => tdb.drop());
    const db = createKysely(tdb.url, { max: 4 });
    cleanups.unshift(() => db.destroy());
    await migrateEventStore(db);
    const store = new PostgresEventStore(db);

    const nc = await connectNats({ url: natsUrl(), name: 'trace-chain-test' });
    cleanups.unshift(async () => {
      await deletePrefixedStreams(prefix, nc);
      await nc.close();
    });
    await ensureStreams(nc, { prefix });
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    const relay = startRelay({ store, name: 'relay-jetstream', publish: async (e) => void (await publish(e)), pollMillis: 200 });
    cleanups.unshift(() => relay.stop());
    const consumer = await startConsumer({
      events: false, // made-up event types: the envelope is checked, not the catalog
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable: 'trace-chain',
      filterSubject: 'berth.inventory.vm.*.VmRequested',
      handle: async (env) => (received.push(env), ack()),
    });
    cleanups.unshift(() => consumer.stop());

    const noop = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const server = createGrpcServer({
      serviceName: 'trace-chain',
      readiness: async () => true,
      logger: noop,
      services: [
        {
          definition: testingV1.EchoServiceService,
          implementation: {
            echo: unary(async (req: { message: string }) => {
              await store.append(`vm-${req.message}`, [{ type: 'VmRequested', data: { message: req.message } }], {
                expectedVersion: 'no-stream',
              });
              return { message: req.message, deadlineUnixMillis: 0 };
            }),
            // eslint-disable-next-line require-yield
            echoStream: serverStream(async function* () {
              return;
            }),
          },
        },
      ],
    });
    const port = await server.listen(0, '127.0.0.1');
    cleanups.unshift(() => server.shutdown(0, 1000));
    const client = createClient(testingV1.EchoServiceClient, `127.0.0.1:${port}`, { deadlineMillis: 5000 });
    cleanups.unshift(async () => client.close());
    call = (message) => callUnary(client, 'echo', { message, delayMillis: 0 });
  });

  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('links the spans into one trace: grpc server -> append -> publish -> consume', async () => {
    await call('chain1');
    const deadline = Date.now() + 30_000;
    while (!received.some((e) => e.streamId === 'vm-chain1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const event = received.find((e) => e.streamId === 'vm-chain1');
    expect(event).toBeDefined();
    await obs.flush();
    const spans = obs.memoryExporter!.getFinishedSpans();
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: (typeof spans)[number]) => byId.get(s.parentSpanContext?.spanId ?? '');

    const consume = spans.find((s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.message.id'] === event!.id)!;
    expect(consume).toBeDefined();
    const publish = parentOf(consume)!;
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.attributes['messaging.message.id']).toBe(event!.id);
    const append = parentOf(publish)!;
    expect(append.name).toBe('event-store append');
    expect(append.attributes['berth.stream.id']).toBe('vm-chain1');
    const server = parentOf(append)!;
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.name).toContain('berth.testing.v1.EchoService/Echo');
    const traceIds = new Set([consume, publish, append, server].map((s) => s.spanContext().traceId));
    expect(traceIds.size).toBe(1);
  });
});
