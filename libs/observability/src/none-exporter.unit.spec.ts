/**
 * `none`: no span processing, but ids for logs and W3C context forwarded. This file starts the SDK
 * with `none` in its own worker (the OpenTelemetry API is process-global).
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeTraceIds, withSpan } from './spans.ts';
import { extractTraceContext, traceHeadersOf } from './propagation.ts';
import { startObservability, type Observability } from './sdk.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const UPSTREAM_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

describe('exporter none', () => {
  let obs: Observability;
  beforeAll(() => {
    obs = startObservability({ serviceName: 'none-test', exporter: 'none', instrumentations: false });
  });
  afterAll(async () => {
    await obs.shutdown();
  });

  it('records nothing for a root span, yet mints ids for logs and propagates them unsampled', async () => {
    await withSpan('root', (span) => {
      expect(span.isRecording()).toBe(false);
      const sc = span.spanContext();
      expect(activeTraceIds()).toEqual({ trace_id: sc.traceId, span_id: sc.spanId });
      expect(traceHeadersOf()['traceparent']).toBe(`00-${sc.traceId}-${sc.spanId}-00`);
    });
  });

  it('keeps the trace of an unsampled upstream parent without recording', async () => {
    const parent = extractTraceContext({ traceparent: `00-${TRACE}-${UPSTREAM_SPAN}-00` });
    await withSpan(
      'child',
      (span) => {
        expect(span.isRecording()).toBe(false);
        const [, traceId, , flags] = TRACEPARENT.exec(traceHeadersOf()['traceparent'] ?? '') ?? [];
        expect({ traceId, flags }).toEqual({ traceId: TRACE, flags: '00' });
      },
      { parent },
    );
  });

  it('forwards a sampled upstream parent still sampled, through nested spans', async () => {
    const parent = extractTraceContext({ traceparent: `00-${TRACE}-${UPSTREAM_SPAN}-01`, tracestate: 'vendor=x' });
    await withSpan(
      'consume',
      async (outer) => {
        // Recorded (ParentBased keeps AlwaysOn for a sampled parent) so the flag is not lost downstream.
        expect(outer.isRecording()).toBe(true);
        await withSpan('publish', (inner) => {
          const headers = traceHeadersOf();
          expect(headers).toEqual({ traceparent: `00-${TRACE}-${inner.spanContext().spanId}-01`, tracestate: 'vendor=x' });
        });
      },
      { parent },
    );
  });

  it('loads neither the NodeSDK nor any exporter nor the metrics SDK (about 1 s of every service start)', () => {
    const loaded = Object.keys(createRequire(import.meta.url).cache)
      .map((f) => /[\\/]@opentelemetry[\\/](sdk-node|sdk-metrics|sdk-logs|exporter-[^\\/]+)[\\/]/.exec(f)?.[1])
      .filter((name) => name !== undefined);
    expect(obs.metricsExporterKind).toBe('none');
    expect([...new Set(loaded)]).toEqual([]);
    // What it does load is what propagation needs: the tracer provider is there.
    expect(Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('sdk-trace-node'))).toBe(true);
  });
});
