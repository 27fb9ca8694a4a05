import { context, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span, type SpanKind } from '@opentelemetry/api';

export const TRACER_NAME = '@berth/observability';

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** Parent context; the active one by default. */
  readonly parent?: Context;
}

/**
 * Runs `fn` inside a new active span, ending it when `fn` settles; a thrown error is recorded on
 * the span (status ERROR) and rethrown. Under a parent that is not sampled the span would not be
 * recorded either (every sampler Berth configures is parent-based), so none is made: `fn` runs with
 * the parent's context active and gets a non-recording span carrying it (same trace id; this is
 * the hot path of every relayed and consumed event when tracing is off).
 */
export async function withSpan<T>(name: string, fn: (span: Span) => Promise<T> | T, opts: SpanOptions = {}): Promise<T> {
  const parent = opts.parent ?? context.active();
  const parentSpan = trace.getSpanContext(parent);
  if (parentSpan !== undefined && trace.isSpanContextValid(parentSpan) && (parentSpan.traceFlags & TraceFlags.SAMPLED) === 0) {
    const span = trace.wrapSpanContext(parentSpan);
    return context.with(trace.setSpan(parent, span), async () => fn(span));
  }
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, { kind: opts.kind, attributes: opts.attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e instanceof Error ? e : new Error(String(e)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Trace and span id of the active span, if any (for log lines and error reports). */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  if (sc === undefined || !trace.isSpanContextValid(sc)) return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
