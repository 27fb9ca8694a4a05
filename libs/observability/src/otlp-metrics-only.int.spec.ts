/**
 * Metrics over OTLP with tracing off (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT alone), the way telemetry's
 * host and guest gauges reach a collector: the NodeSDK and the metrics exporter are loaded for it
 * (they are not when nothing goes to OTLP, see none-exporter.unit.spec.ts), and the gauges arrive.
 * This file starts the SDK in its own worker (the OpenTelemetry API is process-global).
 */
import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startObservability, type Observability } from './sdk.ts';
import { withSpan } from './spans.ts';

const read = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

describe('OTLP metrics with tracing off', () => {
  const received: { path: string; body: string }[] = [];
  const receiver = createServer((req, res) => {
    void read(req).then((body) => {
      received.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  let obs: Observability;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const { port } = receiver.address() as AddressInfo;
    // The exporter reads process.env itself.
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${port}/v1/metrics`,
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'otlp-metrics-only-test',
    });
    obs = startObservability({ serviceName: 'ignored', instrumentations: false });
  });
  afterAll(async () => {
    await obs.shutdown();
    await new Promise((r) => receiver.close(r));
  });

  it('exports observable gauges and counters with their attributes, and no spans', async () => {
    expect({ traces: obs.exporterKind, metrics: obs.metricsExporterKind }).toEqual({ traces: 'none', metrics: 'otlp' });
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.some((f) => /[\\/]@opentelemetry[\\/]sdk-node[\\/]/.test(f))).toBe(true);
    expect(loaded.some((f) => /[\\/]@opentelemetry[\\/]exporter-metrics-otlp-http[\\/]/.test(f))).toBe(true);

    const meter = metrics.getMeter('telemetry');
    meter.createObservableGauge('berth.host.memory.free').addCallback((r) => r.observe(4096, { 'berth.host_id': 'h7' }));
    meter.createCounter('berth.decisions').add(2, { policy: 'balloon' });
    await withSpan('not exported', () => undefined);
    await obs.flush();

    type Point = { asInt?: string | number; asDouble?: number; attributes: { key: string; value: { stringValue?: string } }[] };
    type Metric = { name: string; sum?: { dataPoints: Point[] }; gauge?: { dataPoints: Point[] } };
    type Body = {
      resourceMetrics: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeMetrics: { metrics: Metric[] }[];
      }[];
    };
    const bodies = received.filter((r) => r.path === '/v1/metrics').map((r) => JSON.parse(r.body) as Body);
    expect(bodies.length).toBeGreaterThan(0);
    const service = bodies[0]!.resourceMetrics[0]!.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
    expect(service).toBe('otlp-metrics-only-test');
    const all = bodies.flatMap((b) => b.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics)));
    const gauge = all.find((m) => m.name === 'berth.host.memory.free')?.gauge?.dataPoints[0];
    expect(Number(gauge?.asInt ?? gauge?.asDouble)).toBe(4096);
    expect(gauge?.attributes.find((a) => a.key === 'berth.host_id')?.value.stringValue).toBe('h7');
    const counter = all.find((m) => m.name === 'berth.decisions')?.sum?.dataPoints[0];
    expect(Number(counter?.asInt ?? counter?.asDouble)).toBe(2);
    expect(received.filter((r) => r.path.includes('traces'))).toEqual([]);
  });
});
