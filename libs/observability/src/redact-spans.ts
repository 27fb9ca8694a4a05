import type { Context } from '@opentelemetry/api';
import { maskUrlsIn } from '@berth/config';
import type * as tracing from '@opentelemetry/sdk-trace-node';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const mask = (v: unknown): unknown => (typeof v === 'string' && v.includes('://') ? maskUrlsIn(v) : v);

function maskAttributes(attrs: Record<string, unknown> | undefined): void {
  if (attrs === undefined) return;
  for (const [k, v] of Object.entries(attrs)) {
    const m = mask(v);
    if (m !== v) attrs[k] = m;
  }
}

/**
 * Masks URL passwords in a finished span (status message, attributes, event attributes such as a
 * recorded exception's message and stack) before the exporters see it: an error from a driver may
 * quote the URL it was given (docs/security.md).
 */
export class RedactingSpanProcessor implements tracing.SpanProcessor {
  constructor(private readonly inner: tracing.SpanProcessor) {}

  onStart(span: tracing.Span, parent: Context): void {
    this.inner.onStart(span, parent);
  }

  onEnd(span: tracing.ReadableSpan): void {
    const s = span as Mutable<tracing.ReadableSpan>;
    if (s.status.message !== undefined) s.status = { ...s.status, message: maskUrlsIn(s.status.message) };
    maskAttributes(s.attributes);
    for (const e of s.events) maskAttributes(e.attributes);
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
