import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startObservability, type Observability } from './sdk.ts';
import { withSpan } from './spans.ts';

interface Received {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

const read = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

describe('OTLP/HTTP export configured by OTEL_* variables', () => {
  const received: Received[] = [];
  const receiver = createServer((req, res) => {
    void read(req).then((body) => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  let obs: Observability;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const { port } = receiver.address() as AddressInfo;
    // The OTLP exporters read process.env themselves; this file runs in its own worker.
    Object.assign(process.env, {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'otlp-export-test',
    });
    obs = startObservability({ serviceName: 'ignored-when-env-names-it', instrumentations: false });
  });
  afterAll(async () => {
    await obs.shutdown();
    await new Promise((r) => receiver.close(r));
  });

  it('sends finished spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces with the service name', async () => {
    expect(obs.exporterKind).toBe('otlp');
    const traceId = await withSpan('exported-span', (span) => span.spanContext().traceId);
    await obs.flush();
    const post = received.find((r) => r.path === '/v1/traces');
    expect(post?.contentType).toMatch(/application\/json/);
    const body = JSON.parse(post!.body) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: { name: string; traceId: string }[] }[];
      }[];
    };
    const rs = body.resourceSpans[0]!;
    expect(rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe('otlp-export-test');
    const span = rs.scopeSpans.flatMap((s) => s.spans).find((s) => s.name === 'exported-span');
    expect(span?.traceId).toBe(traceId);
  });

  it('sends metrics (counters and observable gauges with their attributes) to OTEL_EXPORTER_OTLP_ENDPOINT/v1/metrics', async () => {
    expect(obs.metricsExporterKind).toBe('otlp');
    const meter = metrics.getMeter('otlp-export-test');
    meter.createCounter('berth.test.requests').add(3, { outcome: 'ok' });
    meter.createObservableGauge('berth.test.host.mem_free').addCallback((r) => r.observe(1234, { 'berth.host_id': 'h1' }));
    await obs.flush();
    const posts = received.filter((r) => r.path === '/v1/metrics');
    expect(posts.length).toBeGreaterThan(0);
    type Point = { asInt?: string | number; asDouble?: number; attributes: { key: string; value: { stringValue?: string } }[] };
    type Metric = { name: string; sum?: { dataPoints: Point[] }; gauge?: { dataPoints: Point[] } };
    const all = posts.flatMap((p) =>
      (JSON.parse(p.body) as { resourceMetrics: { scopeMetrics: { metrics: Metric[] }[] }[] }).resourceMetrics.flatMap((rm) =>
        rm.scopeMetrics.flatMap((sm) => sm.metrics),
      ),
    );
    const value = (p: Point | undefined) => Number(p?.asInt ?? p?.asDouble);
    const attr = (p: Point | undefined, key: string) => p?.attributes.find((a) => a.key === key)?.value.stringValue;
    const counter = all.find((m) => m.name === 'berth.test.requests')?.sum?.dataPoints[0];
    expect(value(counter)).toBe(3);
    expect(attr(counter, 'outcome')).toBe('ok');
    const gauge = all.find((m) => m.name === 'berth.test.host.mem_free')?.gauge?.dataPoints[0];
    expect(value(gauge)).toBe(1234);
    expect(attr(gauge, 'berth.host_id')).toBe('h1');
  });
});
