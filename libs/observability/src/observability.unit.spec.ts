import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { createLogger } from './logger.ts';
import { extractTraceContext, injectTraceHeaders, traceHeadersOf } from './propagation.ts';
import { OTLPTraceExporter as OtlpJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as OtlpGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { otlpExporterFor, resolveExporterKind, startObservability, type Observability } from './sdk.ts';
import { withSpan } from './spans.ts';

/** Shaped like NATS MsgHdrs: get answers '' for a missing header. */
const natsHeaders = () => {
  const m = new Map<string, string>();
  return { get: (k: string) => m.get(k) ?? '', set: (k: string, v: string) => void m.set(k, v) };
};

describe('observability', () => {
  let obs: Observability;
  beforeAll(() => {
    obs = startObservability({ serviceName: 'obs-test', exporter: 'memory', instrumentations: false });
  });
  afterAll(async () => {
    await obs.shutdown();
  });

  it('returns the first handle when started twice', () => {
    expect(startObservability({ serviceName: 'other', exporter: 'none' })).toBe(obs);
  });

  it('writes JSON log lines carrying trace_id and span_id of the active span', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = createLogger('test', { destination: sink });
    const ids = await withSpan('work', (span) => {
      log.info({ vm: 'vm-1' }, 'inside');
      return span.spanContext();
    });
    log.info('outside');
    expect(lines[0]).toMatchObject({ level: 'info', name: 'test', msg: 'inside', vm: 'vm-1', trace_id: ids.traceId, span_id: ids.spanId });
    expect(lines[1]).toMatchObject({ msg: 'outside' });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });

  it('records finished spans, errors included, in the memory exporter', async () => {
    await expect(withSpan('failing', () => Promise.reject(new Error('bad')))).rejects.toThrow('bad');
    await obs.flush();
    const span = obs.memoryExporter!.getFinishedSpans().find((s) => s.name === 'failing');
    expect(span?.status).toMatchObject({ code: 2, message: 'bad' });
  });

  it('makes no span under a parent that is not sampled, and keeps its context for what runs inside', async () => {
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: TraceFlags.NONE,
      isRemote: true,
    });
    const inside = await withSpan(
      'unsampled child',
      (span) => ({ span: span.spanContext(), active: trace.getSpanContext(context.active()), recording: span.isRecording() }),
      { parent: unsampled },
    );
    expect(inside).toEqual({
      span: expect.objectContaining({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }),
      active: expect.objectContaining({ traceId: 'a'.repeat(32) }),
      recording: false,
    });
    await expect(withSpan('unsampled failing', () => Promise.reject(new Error('still thrown')), { parent: unsampled })).rejects.toThrow(
      'still thrown',
    );
    // A sampled parent still gets its child recorded.
    const sampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: 'c'.repeat(32),
      spanId: 'd'.repeat(16),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    await withSpan('sampled child', () => undefined, { parent: sampled });
    await obs.flush();
    const names = obs.memoryExporter!.getFinishedSpans().map((s) => s.name);
    expect(names).toContain('sampled child');
    expect(names).not.toContain('unsampled child');
    expect(names).not.toContain('unsampled failing');
  });

  it('carries W3C context through NATS headers and plain records', async () => {
    await withSpan('publish', async (span) => {
      const h = injectTraceHeaders(natsHeaders());
      const sc = span.spanContext();
      expect(h.get('traceparent')).toBe(`00-${sc.traceId}-${sc.spanId}-01`);
      const restored = trace.getSpanContext(extractTraceContext(h));
      expect(restored).toMatchObject({ traceId: sc.traceId, spanId: sc.spanId, isRemote: true });
      expect(trace.getSpanContext(extractTraceContext(traceHeadersOf()))?.spanId).toBe(sc.spanId);
    });
    expect(trace.getSpanContext(extractTraceContext(natsHeaders()))).toBeUndefined();
    expect(traceHeadersOf(ROOT_CONTEXT)).toEqual({});
    expect(context.active()).toBe(ROOT_CONTEXT);
  });
});

describe('resolveExporterKind', () => {
  it('follows OTEL_TRACES_EXPORTER, else otlp only when an endpoint is set', () => {
    expect(resolveExporterKind({})).toBe('none');
    expect(resolveExporterKind({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('otlp');
    expect(resolveExporterKind({ OTEL_TRACES_EXPORTER: 'console' })).toBe('console');
    expect(resolveExporterKind({ OTEL_TRACES_EXPORTER: 'otlp,console' })).toBe('otlp');
  });
  it('rejects an unknown exporter naming the variable', () => {
    let error: unknown;
    try {
      resolveExporterKind({ OTEL_TRACES_EXPORTER: 'jaeger' });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      name: 'ValidationError',
      violations: [{ field: 'OTEL_TRACES_EXPORTER', reason: expect.stringContaining('jaeger') }],
    });
  });
});

describe('otlpExporterFor', () => {
  it('picks the exporter from OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, http/protobuf by default', () => {
    expect(otlpExporterFor({}).constructor).toBe(OtlpProto);
    expect(otlpExporterFor({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).constructor).toBe(OtlpJson);
    expect(otlpExporterFor({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }).constructor).toBe(
      OtlpGrpc,
    );
    expect(() => otlpExporterFor({ OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: must be/);
  });
});
