import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, trace } from '@opentelemetry/api';
import type { NatsConnection } from '@nats-io/transport-node';
import { deletePrefixedStreams, eventually, infraAvailable, natsUrl, testSubjectPrefix } from '@berth/testing';
import { startObservability, traceHeadersOf, withSpan, type Observability } from '@berth/observability';
import { connectNats } from './connect.ts';
import { startConsumer, type RunningConsumer } from './consumer.ts';
import { createEventPublisher } from './publisher.ts';
import { ack } from './results.ts';
import { ensureStreams } from './streams.ts';
import { makeEvent } from './testing/jetstream.ts';

describe.skipIf(!(await infraAvailable('nats')))('trace context across NATS', () => {
  const prefix = testSubjectPrefix('tt');
  let obs: Observability;
  let nc: NatsConnection;
  let consumer: RunningConsumer;
  const handled = new Map<string, { traceId: string | undefined }>();

  beforeAll(async () => {
    obs = startObservability({ serviceName: 'messaging-trace-test', exporter: 'memory', instrumentations: false });
    nc = await connectNats({ url: natsUrl(), name: 'messaging-trace-test' });
    await ensureStreams(nc, { prefix });
    consumer = await startConsumer({
      events: false, // made-up event types: the envelope is checked, not the catalog
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable: 'trace-test',
      filterSubject: 'berth.inventory.>',
      // The handler runs inside the consume span: its active trace id is the publisher's.
      handle: async (env) => (handled.set(env.id, { traceId: trace.getActiveSpan()?.spanContext().traceId }), ack()),
    });
  });
  afterAll(async () => {
    await consumer.stop();
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
    await obs.shutdown();
  });

  const spansOf = (eventId: string) => {
    const spans = obs.memoryExporter!.getFinishedSpans().filter((s) => s.attributes['messaging.message.id'] === eventId);
    const publish = spans.find((s) => s.kind === SpanKind.PRODUCER);
    const consume = spans.find((s) => s.kind === SpanKind.CONSUMER);
    return publish && consume ? { publish, consume } : undefined;
  };

  it('makes the consume span a child of the publish span, in the publisher’s trace', async () => {
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    const e = makeEvent();
    const requestTraceId = await withSpan('request', async (span) => {
      await publish(e);
      return span.spanContext().traceId;
    });
    const { publish: p, consume: c } = await eventually(() => spansOf(e.id), 'spans', 20_000);
    expect(p.spanContext().traceId).toBe(requestTraceId);
    expect(c.spanContext().traceId).toBe(requestTraceId);
    expect(c.parentSpanContext?.spanId).toBe(p.spanContext().spanId);
    expect(handled.get(e.id)?.traceId).toBe(requestTraceId);
    expect(c.attributes['messaging.consumer.group.name']).toBe('trace-test');
  });

  it('parents the publish span on the context recorded with the event (the append), not the relay’s', async () => {
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    let appendSpanId = '';
    const metadata = await withSpan('append', (span) => {
      appendSpanId = span.spanContext().spanId;
      return traceHeadersOf();
    });
    const e = makeEvent({ metadata });
    // The relay publishes later, inside its own unrelated span.
    await withSpan('relay batch', () => publish(e));
    const { publish: p, consume: c } = await eventually(() => spansOf(e.id), 'spans', 20_000);
    expect(p.parentSpanContext?.spanId).toBe(appendSpanId);
    expect(p.spanContext().traceId).toBe(metadata['traceparent']!.split('-')[1]);
    expect(c.parentSpanContext?.spanId).toBe(p.spanContext().spanId);
  });

  it('carries an unsampled recorded context on as it is, making no spans', async () => {
    const publish = createEventPublisher(nc, { service: 'inventory', prefix });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const e = makeEvent({ metadata: { traceparent, tracestate: 'vendor=1' } });
    const sub = nc.subscribe(`${prefix}.berth.inventory.>`, { max: 1 });
    await publish(e);
    for await (const m of sub) {
      expect(m.headers?.get('traceparent')).toBe(traceparent);
      expect(m.headers?.get('tracestate')).toBe('vendor=1');
      expect(m.headers?.get('Nats-Msg-Id')).toBe(e.id);
    }
    await eventually(() => handled.get(e.id), 'handled', 20_000);
    // The handler still runs in the recorded trace; nothing was recorded for it.
    expect(handled.get(e.id)?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(obs.memoryExporter!.getFinishedSpans().filter((s) => s.attributes['messaging.message.id'] === e.id)).toEqual([]);
  });
});
