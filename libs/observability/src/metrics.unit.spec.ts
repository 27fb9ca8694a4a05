import { OTLPMetricExporter as OtlpJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as OtlpGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { describe, expect, it } from 'vitest';
import { metricExportIntervalMillis, metricReadersFor, otlpMetricExporterFor, resolveMetricsExporterKind } from './metrics.ts';

describe('resolveMetricsExporterKind', () => {
  it('follows OTEL_METRICS_EXPORTER, else otlp only when an endpoint is set (never the SDK default of localhost:4318)', () => {
    expect(resolveMetricsExporterKind({})).toBe('none');
    expect(metricReadersFor('none', {})).toEqual([]);
    expect(resolveMetricsExporterKind({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('otlp');
    expect(resolveMetricsExporterKind({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://collector:4318/v1/metrics' })).toBe('otlp');
    expect(resolveMetricsExporterKind({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_METRICS_EXPORTER: 'none' })).toBe(
      'none',
    );
    expect(resolveMetricsExporterKind({ OTEL_METRICS_EXPORTER: 'console' })).toBe('console');
  });
  it('rejects an unknown exporter naming the variable', () => {
    expect(() => resolveMetricsExporterKind({ OTEL_METRICS_EXPORTER: 'statsd' })).toThrow(
      /OTEL_METRICS_EXPORTER: must be one of otlp, console, none, got "statsd"/,
    );
  });
});

describe('otlpMetricExporterFor', () => {
  it('picks the exporter from OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL, http/protobuf by default', () => {
    expect(otlpMetricExporterFor({}).constructor).toBe(OtlpProto);
    expect(otlpMetricExporterFor({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).constructor).toBe(OtlpJson);
    expect(
      otlpMetricExporterFor({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' }).constructor,
    ).toBe(OtlpGrpc);
    expect(() => otlpMetricExporterFor({ OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'udp' })).toThrow(
      /OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: must be/,
    );
  });
});

describe('metricExportIntervalMillis', () => {
  it('reads milliseconds (the spec) or a duration, 60 s by default, at least 100 ms', () => {
    expect(metricExportIntervalMillis({})).toBe(60_000);
    expect(metricExportIntervalMillis({ OTEL_METRIC_EXPORT_INTERVAL: '5000' })).toBe(5000);
    expect(metricExportIntervalMillis({ OTEL_METRIC_EXPORT_INTERVAL: '2s' })).toBe(2000);
    expect(() => metricExportIntervalMillis({ OTEL_METRIC_EXPORT_INTERVAL: '10' })).toThrow(
      /OTEL_METRIC_EXPORT_INTERVAL: must be at least 100 ms/,
    );
    expect(() => metricExportIntervalMillis({ OTEL_METRIC_EXPORT_INTERVAL: 'often' })).toThrow(/OTEL_METRIC_EXPORT_INTERVAL/);
  });
});
