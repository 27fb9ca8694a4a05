import { createRequire } from 'node:module';
import * as tracing from '@opentelemetry/sdk-trace-node';
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as OtlpHttpJson from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtlpHttpProto from '@opentelemetry/exporter-trace-otlp-proto';
import type * as OtlpGrpc from '@opentelemetry/exporter-trace-otlp-grpc';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import { metrics } from '@opentelemetry/api';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
  type Resource,
} from '@opentelemetry/resources';
import { otlpProtocol } from './otlp-protocol.ts';
import { metricReadersFor, resolveMetricsExporterKind, type MetricsExporterKind } from './metrics.ts';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { ValidationError } from '@berth/errors';
import { PropagatingGrpcInstrumentation } from './grpc-propagation.ts';
import { RedactingSpanProcessor } from './redact-spans.ts';

export type TraceExporterKind = 'otlp' | 'console' | 'none' | 'memory';
const KINDS: readonly TraceExporterKind[] = ['otlp', 'console', 'none', 'memory'];

export interface ObservabilityOptions {
  /** Overrides OTEL_SERVICE_NAME. */
  readonly serviceName: string;
  /**
   * Where spans go. Default from OTEL_TRACES_EXPORTER; when that is unset, `otlp` if an OTLP endpoint
   * is configured (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), else `none`:
   * no span processing (see {@link samplerFor}), pg not instrumented, W3C context still propagated
   * and trace ids still minted for logs.
   */
  readonly exporter?: TraceExporterKind;
  /** gRPC, http and pg auto-instrumentation (pg not with `none`); on by default. */
  readonly instrumentations?: boolean;
  /**
   * Require the libraries the instrumentations patch now, so they are patched when the service
   * imports them: for a process without import-in-the-middle's loader hook (register.ts leaves it
   * out with `none`). They are CommonJS or built in, so an ESM import gets the module object the
   * require patched. Without it, only libraries already loaded are required again (see below).
   */
  readonly loadPatchedNow?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Observability {
  readonly serviceName: string;
  readonly exporterKind: TraceExporterKind;
  /** Where metrics go (see {@link resolveMetricsExporterKind}). */
  readonly metricsExporterKind: MetricsExporterKind;
  /** Finished spans, only with `exporter: 'memory'`. */
  readonly memoryExporter: tracing.InMemorySpanExporter | undefined;
  /** Exports pending spans (batch processors) and collects and exports metrics now, without stopping. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * A library loaded before the SDK started (by an ESM import the loader hook did not see, or by a
 * test runner) is patched when it is next required: require it once now. Not-yet-loaded ones are
 * left alone, so nothing is loaded that the process does not use. `names`: the CommonJS libraries
 * the registered instrumentations patch through their prototypes.
 */
function patchAlreadyLoaded(names: readonly string[], all: boolean): void {
  const req = createRequire(import.meta.url);
  for (const name of names) {
    try {
      if (all || req.cache[req.resolve(name)] !== undefined) req(name);
    } catch {
      // not installed: nothing to patch
    }
  }
}

// The OpenTelemetry API is process-global; a second start would fight over it.
let started: Observability | undefined;

export function resolveExporterKind(env: NodeJS.ProcessEnv): TraceExporterKind {
  const raw = env['OTEL_TRACES_EXPORTER']?.trim();
  if (raw === undefined || raw === '') {
    return env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ? 'otlp' : 'none';
  }
  const first = raw.split(',')[0]!.trim();
  if (!(KINDS as readonly string[]).includes(first)) {
    throw new ValidationError({ field: 'OTEL_TRACES_EXPORTER', reason: `must be one of ${KINDS.join(', ')}, got "${raw}"` });
  }
  return first as TraceExporterKind;
}

/**
 * The NodeSDK and the OTLP exporters are loaded only when something is exported over OTLP: the
 * NodeSDK pulls in every exporter it knows (traces, metrics and logs in three protocols each,
 * Prometheus, Zipkin), about 0.75-1 s of a service's start on these machines, for nothing when
 * tracing is off. They are CommonJS packages, so `require` loads the same module `import` would.
 */
const load = createRequire(import.meta.url);

/** OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: `http/protobuf` (the spec's default), `http/json` or `grpc`. */
export function otlpExporterFor(env: NodeJS.ProcessEnv): tracing.SpanExporter {
  switch (otlpProtocol(env, 'TRACES')) {
    case 'http/protobuf':
      return new (load('@opentelemetry/exporter-trace-otlp-proto') as typeof OtlpHttpProto).OTLPTraceExporter();
    case 'http/json':
      return new (load('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttpJson).OTLPTraceExporter();
    case 'grpc':
      return new (load('@opentelemetry/exporter-trace-otlp-grpc') as typeof OtlpGrpc).OTLPTraceExporter();
  }
}

function spanProcessorsFor(
  kind: TraceExporterKind,
  memory: tracing.InMemorySpanExporter | undefined,
  env: NodeJS.ProcessEnv,
): tracing.SpanProcessor[] {
  switch (kind) {
    // Every exporting processor sees spans with URL passwords masked (redact-spans.ts).
    case 'memory':
      return [new RedactingSpanProcessor(new tracing.SimpleSpanProcessor(memory!))];
    case 'console':
      return [new RedactingSpanProcessor(new tracing.SimpleSpanProcessor(new tracing.ConsoleSpanExporter()))];
    case 'otlp':
      // The exporters read OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) themselves.
      return [new RedactingSpanProcessor(new tracing.BatchSpanProcessor(otlpExporterFor(env)))];
    case 'none':
      // Only spans of upstream-sampled traces are recorded (see samplerFor); they end here.
      return [new tracing.NoopSpanProcessor()];
    default: {
      const never: never = kind;
      throw new Error(`unknown exporter ${String(never)}`);
    }
  }
}

/**
 * The sampler for `none`: ParentBased with an AlwaysOff root. Nothing is exported, so a span is
 * only worth recording when some upstream service sampled its trace:
 * - no parent, or an unsampled one: a non-recording span (no attributes, events or processor
 *   calls) that still gets fresh ids, so log lines carry trace_id/span_id and the context that is
 *   propagated downstream is valid (flags 00);
 * - a sampled parent (a `traceparent` ending in -01 from gRPC metadata or NATS headers, or a local
 *   child of such a span): recorded as ParentBased does by default (AlwaysOn), so the sampled flag
 *   travels on and services that do export keep the trace; those spans end in the no-op
 *   processor. Dropping them too (AlwaysOff for sampled parents) would forward `-00` and cut the
 *   trace for every exporting service downstream.
 * Other kinds keep the SDK's default (OTEL_TRACES_SAMPLER, else ParentBased(AlwaysOn)).
 */
function samplerFor(kind: TraceExporterKind): tracing.Sampler | undefined {
  return kind === 'none' ? new tracing.ParentBasedSampler({ root: new tracing.AlwaysOffSampler() }) : undefined;
}

/**
 * The auto-instrumentations and the CommonJS libraries they patch. With `none`, only the ones that
 * carry W3C context between processes (gRPC metadata, HTTP headers): pg spans are leaves that
 * propagate nothing, and would only cost time per query; and the gRPC server side only extracts
 * the context and runs the method under a (normally non-recording) span, see
 * {@link PropagatingGrpcInstrumentation}.
 */
function instrumentationsFor(kind: TraceExporterKind): { instrumentations: Instrumentation[]; patchable: string[] } {
  if (kind === 'none')
    return {
      instrumentations: [new HttpInstrumentation(), new PropagatingGrpcInstrumentation()],
      patchable: ['@grpc/grpc-js', 'http', 'https'],
    };
  return {
    instrumentations: [new HttpInstrumentation(), new GrpcInstrumentation(), new PgInstrumentation({ requireParentSpan: true })],
    patchable: ['@grpc/grpc-js', 'pg', 'http', 'https'],
  };
}

/** What a started SDK must do on flush and shutdown. */
interface Started {
  readonly processors: readonly tracing.SpanProcessor[];
  readonly metricReaders: readonly { forceFlush(): Promise<void> }[];
  shutdown(): Promise<void>;
}

interface Setup {
  readonly serviceName: string;
  readonly processors: tracing.SpanProcessor[];
  readonly sampler: tracing.Sampler | undefined;
  readonly instrumentations: Instrumentation[];
  readonly metricsKind: MetricsExporterKind;
  readonly env: NodeJS.ProcessEnv;
}

/** With an OTLP exporter (traces or metrics): the NodeSDK, as the OTLP collector deployments expect it (resource detectors, OTEL_PROPAGATORS, logs). */
function startNodeSdk(s: Setup): Started {
  const { NodeSDK } = load('@opentelemetry/sdk-node') as typeof SdkNode;
  // Always given, even empty: left out, the NodeSDK would default to OTLP on localhost:4318.
  const metricReaders = metricReadersFor(s.metricsKind, s.env);
  const sdk = new NodeSDK({
    serviceName: s.serviceName,
    spanProcessors: s.processors,
    metricReaders,
    ...(s.sampler === undefined ? {} : { sampler: s.sampler }),
    instrumentations: s.instrumentations,
  });
  sdk.start();
  return { processors: s.processors, metricReaders, shutdown: () => sdk.shutdown() };
}

/**
 * Without OTLP: what the NodeSDK would register, minus what only exporting needs. A tracer provider
 * (the sampler and processors above; service name and OTEL_RESOURCE_ATTRIBUTES on the resource),
 * the AsyncLocalStorage context manager and the W3C trace-context and baggage propagators (so
 * context still crosses gRPC and NATS and logs carry trace ids), the instrumentations, and a meter
 * provider only for `OTEL_METRICS_EXPORTER=console` (with `none`, instruments stay the API's no-ops).
 */
function startWithoutOtlp(s: Setup): Started {
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector, processDetector, hostDetector] }))
    .merge(resourceFromAttributes({ 'service.name': s.serviceName }));
  const provider = new tracing.NodeTracerProvider({
    resource,
    spanProcessors: s.processors,
    ...(s.sampler === undefined ? {} : { sampler: s.sampler }),
  });
  provider.register();
  const metricReaders = metricReadersFor(s.metricsKind, s.env);
  const meterProvider = metricReaders.length === 0 ? undefined : consoleMeterProvider(resource, metricReaders);
  registerInstrumentations({ instrumentations: s.instrumentations, tracerProvider: provider, ...(meterProvider ? { meterProvider } : {}) });
  return {
    processors: s.processors,
    metricReaders,
    shutdown: async () => {
      await Promise.all([provider.shutdown(), meterProvider?.shutdown()]);
    },
  };
}

function consoleMeterProvider(resource: Resource, readers: SdkMetrics.MetricReader[]): SdkMetrics.MeterProvider {
  const { MeterProvider } = load('@opentelemetry/sdk-metrics') as typeof SdkMetrics;
  const provider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(provider);
  return provider;
}

/**
 * Starts OpenTelemetry: the NodeSDK when anything goes to an OTLP endpoint, else a tracer provider
 * of its own (see startWithoutOtlp). Call it before importing pg, @grpc/grpc-js or http users
 * (`import '@berth/observability/register'` as the first import of main.ts does), or their
 * auto-instrumentation will not hook. Idempotent: a second call returns the first handle.
 */
export function startObservability(options: ObservabilityOptions): Observability {
  if (started !== undefined) return started;
  const env = options.env ?? process.env;
  const kind = options.exporter ?? resolveExporterKind(env);
  const memoryExporter = kind === 'memory' ? new tracing.InMemorySpanExporter() : undefined;
  const auto = options.instrumentations === false ? { instrumentations: [], patchable: [] } : instrumentationsFor(kind);
  const metricsKind = resolveMetricsExporterKind(env);
  const setup: Setup = {
    serviceName: env['OTEL_SERVICE_NAME'] ?? options.serviceName,
    processors: spanProcessorsFor(kind, memoryExporter, env),
    sampler: samplerFor(kind),
    instrumentations: auto.instrumentations,
    metricsKind,
    env,
  };
  const sdk = kind === 'otlp' || metricsKind === 'otlp' ? startNodeSdk(setup) : startWithoutOtlp(setup);
  patchAlreadyLoaded(auto.patchable, options.loadPatchedNow === true);
  const handle: Observability = {
    serviceName: options.serviceName,
    exporterKind: kind,
    metricsExporterKind: metricsKind,
    memoryExporter,
    async flush() {
      await Promise.all([...sdk.processors.map((p) => p.forceFlush()), ...sdk.metricReaders.map((r) => r.forceFlush())]);
    },
    async shutdown() {
      if (started === handle) started = undefined;
      await sdk.shutdown();
    },
  };
  started = handle;
  return handle;
}
