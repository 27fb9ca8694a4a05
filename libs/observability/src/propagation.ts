import { context as otelContext, ROOT_CONTEXT, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * Anything that carries string headers: NATS `MsgHdrs` (get/set), gRPC-like maps, or a plain record.
 * The W3C propagator is used directly rather than the global one, so trace context crosses NATS
 * even in a process that never started the SDK (it then simply forwards what it received).
 */
export type HeaderCarrier =
  { get(key: string): string | undefined | null; set?(key: string, value: string): void } | Record<string, string | undefined>;

const w3c = new W3CTraceContextPropagator();

const isMethodCarrier = (c: HeaderCarrier): c is { get(key: string): string | undefined | null; set?(key: string, value: string): void } =>
  typeof (c as { get?: unknown }).get === 'function';

const setter: TextMapSetter<HeaderCarrier> = {
  set(carrier, key, value) {
    if (isMethodCarrier(carrier)) carrier.set?.(key, value);
    else carrier[key] = value;
  },
};

const getter: TextMapGetter<HeaderCarrier> = {
  get(carrier, key) {
    const v = isMethodCarrier(carrier) ? carrier.get(key) : carrier[key];
    // NATS MsgHdrs.get answers '' for a missing header.
    return v === null || v === undefined || v === '' ? undefined : v;
  },
  keys(carrier) {
    return isMethodCarrier(carrier) ? ['traceparent', 'tracestate'] : Object.keys(carrier);
  },
};

/** Writes `traceparent` (and `tracestate` when present) of `ctx` into `headers`; returns `headers`. */
export function injectTraceHeaders<T extends HeaderCarrier>(headers: T, ctx: Context = otelContext.active()): T {
  w3c.inject(ctx, headers, setter);
  return headers;
}

/** The context described by `traceparent`/`tracestate` in `headers`, on top of `base` (root by default). */
export function extractTraceContext(headers: HeaderCarrier, base: Context = ROOT_CONTEXT): Context {
  return w3c.extract(base, headers, getter);
}

/** `traceparent`/`tracestate` of `ctx` as a plain record, e.g. for event metadata. */
export function traceHeadersOf(ctx: Context = otelContext.active()): Record<string, string> {
  const out: Record<string, string> = {};
  w3c.inject(ctx, out, setter);
  return out;
}
