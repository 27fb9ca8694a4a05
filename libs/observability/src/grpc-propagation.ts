import { errorMonitor } from 'node:events';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import type { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';

/** The part of grpc-js' `Metadata` read here. */
interface MetadataLike {
  get(key: string): readonly unknown[];
  getMap(): Record<string, unknown>;
}

interface ServerCallLike {
  readonly metadata: MetadataLike;
  on(event: string | symbol, listener: (...args: never[]) => void): unknown;
}

type ServerFunc = (this: unknown, call: ServerCallLike, callback?: (err: unknown, ...rest: unknown[]) => void) => unknown;
type Register = (this: ServerLike, name: string, handler: unknown, serialize: unknown, deserialize: unknown, type: string) => boolean;
interface ServerLike {
  /** grpc-js' private map of registered methods (what GrpcInstrumentation patches too). */
  readonly handlers: Map<string, { func: ServerFunc }>;
}
interface GrpcModule {
  readonly Server: { readonly prototype: { register: Register } };
}

const metadataGetter: TextMapGetter<MetadataLike> = {
  get(carrier, key) {
    const values = carrier.get(key);
    if (values.length === 0) return undefined;
    return values.length === 1 ? String(values[0]) : values.map(String);
  },
  keys: (carrier) => Object.keys(carrier.getMap()),
};

interface GrpcError {
  readonly code?: number;
  readonly name?: string;
  readonly message?: string;
}

/** What GrpcInstrumentation records on a server span that ended with `err` (or OK). */
function endServerSpan(span: Span, err: GrpcError | null | undefined): void {
  if (err) {
    if (err.code) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message ?? '' });
      span.setAttribute('rpc.grpc.status_code', err.code);
    }
    span.setAttributes({ 'grpc.error_name': err.name ?? '', 'grpc.error_message': err.message ?? '' });
  } else {
    span.setAttribute('rpc.grpc.status_code', 0);
  }
  span.end();
}

/**
 * Wraps one registered server method: the incoming context (W3C `traceparent`/`tracestate`, baggage:
 * whatever the global propagator reads) is extracted from the call's metadata, a SERVER span is
 * started under it and the method runs with that span active, so log lines carry its ids and
 * everything the method sends on carries the trace. An unsampled span (the usual case with `none`)
 * costs nothing more: no attributes, no wrapped callback, no listeners on the call, no patched
 * emitter. A recording one (a sampled upstream) gets GrpcInstrumentation's attributes and status.
 */
export function propagatingServerFunc(getTracer: () => Tracer, name: string, type: string, original: ServerFunc): ServerFunc {
  const spanName = `grpc.${name.replace('/', '')}`;
  const [service = '', ...rest] = name.replace(/^\//, '').split('/');
  const attributes = { 'rpc.system': 'grpc', 'rpc.method': rest.join('/'), 'rpc.service': service };
  const unaryLike = type === 'unary' || type === 'clientStream' || type === 'client_stream';
  const options = { kind: SpanKind.SERVER };
  return function func(this: unknown, call, callback) {
    const parent = propagation.extract(ROOT_CONTEXT, call.metadata, metadataGetter);
    const span = getTracer().startSpan(spanName, options, parent);
    const active = trace.setSpan(parent, span);
    if (!span.isRecording()) return context.with(active, original, this, call, callback);
    span.setAttributes(attributes);
    if (unaryLike) {
      const ending = (err: unknown, ...rest: unknown[]): unknown => {
        endServerSpan(span, err as GrpcError | null);
        return callback?.(err, ...rest);
      };
      return context.with(active, original, this, call, ending);
    }
    let ended = false;
    call.on('finish', () => {
      if (!ended) endServerSpan(span, null);
      ended = true;
    });
    call.on(errorMonitor, (err: GrpcError) => {
      if (!ended) endServerSpan(span, err);
      ended = true;
    });
    return context.with(active, original, this, call, callback);
  };
}

/**
 * GrpcInstrumentation for the `none` exporter: the client side as is (it injects `traceparent` into
 * outgoing metadata), the server side replaced by {@link propagatingServerFunc}. The stock server
 * patch costs every call two context switches, a span with attributes, a wrapped callback, a
 * shimmer-wrapped `sendMetadata` and an EventEmitter bound to the context (every listener on the
 * call wrapped), all for a span nobody exports.
 */
export class PropagatingGrpcInstrumentation extends GrpcInstrumentation {
  override init(): InstrumentationNodeModuleDefinition[] {
    const definitions = super.init();
    for (const definition of definitions) {
      const patch = definition.patch?.bind(definition);
      if (patch === undefined) continue;
      definition.patch = (exports: GrpcModule, version?: string): unknown => {
        const patched = patch(exports, version) as GrpcModule;
        // _wrap first unwraps GrpcInstrumentation's own register patch; its unpatch unwraps ours.
        this._wrap(patched.Server.prototype, 'register', (original) => this.patchRegister(original));
        return patched;
      };
    }
    return definitions;
  }

  private patchRegister(original: Register): Register {
    const getTracer = (): Tracer => this.tracer;
    return function register(this: ServerLike, name, handler, serialize, deserialize, type) {
      const registered = original.call(this, name, handler, serialize, deserialize, type);
      const set = this.handlers.get(name);
      if (set !== undefined) set.func = propagatingServerFunc(getTracer, name, type, set.func);
      return registered;
    };
  }
}
