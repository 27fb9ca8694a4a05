import { createRequire } from 'node:module';
import type * as OtlpHttpJson from '@opentelemetry/exporter-metrics-otlp-http';
import type * as OtlpHttpProto from '@opentelemetry/exporter-metrics-otlp-proto';
import type * as OtlpGrpc from '@opentelemetry/exporter-metrics-otlp-grpc';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import { parseDuration } from '@berth/config/units';
import { ValidationError } from '@berth/errors';
import { otlpProtocol } from './otlp-protocol.ts';

/**
 * Where the services' metrics (telemetry's host and guest gauges, decision counters, ...) go.
 * - `otlp`: pushed every OTEL_METRIC_EXPORT_INTERVAL (default 60 s) to the OTLP endpoint, over
 *   OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL like the traces (a collector turns them into Prometheus
 *   series for Grafana: docker-compose.yml);
 * - `console`: printed on the same interval (debugging);
 * - `none`: no meter provider; instruments are the API's no-ops and cost nothing.
 */
export type MetricsExporterKind = 'otlp' | 'console' | 'none';
const KINDS: readonly MetricsExporterKind[] = ['otlp', 'console', 'none'];

/**
 * OTEL_METRICS_EXPORTER when set; else `otlp` when an OTLP endpoint is configured
 * (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_METRICS_ENDPOINT), else `none`. (The SDK's
 * own default would push to localhost:4318 from every process, collector or not.)
 */
export function resolveMetricsExporterKind(env: NodeJS.ProcessEnv): MetricsExporterKind {
  const raw = env['OTEL_METRICS_EXPORTER']?.trim();
  if (raw === undefined || raw === '') {
    return env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] ? 'otlp' : 'none';
  }
  const first = raw.split(',')[0]!.trim();
  if (!(KINDS as readonly string[]).includes(first)) {
    throw new ValidationError({ field: 'OTEL_METRICS_EXPORTER', reason: `must be one of ${KINDS.join(', ')}, got "${raw}"` });
  }
  return first as MetricsExporterKind;
}

// Loaded only when metrics go somewhere (see sdk.ts: the exporters are not loaded for nothing).
const load = createRequire(import.meta.url);

/** OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL: `http/protobuf` (default), `http/json` or `grpc`. */
export function otlpMetricExporterFor(env: NodeJS.ProcessEnv): SdkMetrics.PushMetricExporter {
  switch (otlpProtocol(env, 'METRICS')) {
    case 'http/protobuf':
      return new (load('@opentelemetry/exporter-metrics-otlp-proto') as typeof OtlpHttpProto).OTLPMetricExporter();
    case 'http/json':
      return new (load('@opentelemetry/exporter-metrics-otlp-http') as typeof OtlpHttpJson).OTLPMetricExporter();
    case 'grpc':
      return new (load('@opentelemetry/exporter-metrics-otlp-grpc') as typeof OtlpGrpc).OTLPMetricExporter();
  }
}

/** OTEL_METRIC_EXPORT_INTERVAL: milliseconds as the spec says (`5000`), or a duration (`5s`); at least 100 ms. */
export function metricExportIntervalMillis(env: NodeJS.ProcessEnv): number {
  const raw = env['OTEL_METRIC_EXPORT_INTERVAL']?.trim();
  if (raw === undefined || raw === '') return 60_000;
  const millis = parseDuration(raw, 'OTEL_METRIC_EXPORT_INTERVAL'); // a bare number is milliseconds
  if (millis < 100) throw new ValidationError({ field: 'OTEL_METRIC_EXPORT_INTERVAL', reason: `must be at least 100 ms, got "${raw}"` });
  return millis;
}

export function metricReadersFor(kind: MetricsExporterKind, env: NodeJS.ProcessEnv): SdkMetrics.PeriodicExportingMetricReader[] {
  if (kind === 'none') return [];
  const { ConsoleMetricExporter, PeriodicExportingMetricReader } = load('@opentelemetry/sdk-metrics') as typeof SdkMetrics;
  const exportIntervalMillis = metricExportIntervalMillis(env);
  const exporter = kind === 'otlp' ? otlpMetricExporterFor(env) : new ConsoleMetricExporter();
  return [
    new PeriodicExportingMetricReader({ exporter, exportIntervalMillis, exportTimeoutMillis: Math.min(30_000, exportIntervalMillis) }),
  ];
}
