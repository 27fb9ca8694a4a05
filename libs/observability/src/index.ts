export { startObservability, resolveExporterKind, type Observability, type ObservabilityOptions, type TraceExporterKind } from './sdk.ts';
export { resolveMetricsExporterKind, metricExportIntervalMillis, type MetricsExporterKind } from './metrics.ts';
export { createLogger, type Logger, type LoggerConfig } from './logger.ts';
export { runService, type StoppableService } from './run-service.ts';
export { injectTraceHeaders, extractTraceContext, traceHeadersOf, type HeaderCarrier } from './propagation.ts';
export { withSpan, activeTraceIds, TRACER_NAME, type SpanOptions } from './spans.ts';
