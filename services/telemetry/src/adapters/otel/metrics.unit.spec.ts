import { readFileSync } from 'node:fs';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import { SampleHistory } from '../../application/history.ts';
import { telemetryMetrics } from './metrics.ts';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(provider);
afterAll(() => provider.shutdown());

const capabilities = { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: false, balloon: true };

/** Every instrument, as the collector's Prometheus exporter names its series (docker-compose). */
async function exportedSeries(): Promise<Set<string>> {
  const history = new SampleHistory(10);
  const host = Object.fromEntries(
    ['mem_available', 'mem_free', 'mem_unused', 'swap_usage', 'cpu_usage', 'ksm_run', 'ksm_pages_shared', 'ksm_pages_sharing'].map((s) => [
      s,
      1,
    ]),
  );
  history.add(
    { v: 1, hostId: 'h1', at: new Date().toISOString(), capabilities, host, guests: [{ vmId: 'vm1', stats: { balloon_cur: 1 } }] },
    0,
  );
  const m = telemetryMetrics(history, { guestGauges: true });
  m.interval('h1', 'changed', 3);
  m.controls([{ kind: 'balloon', vmId: 'vm1', targetKib: 1 }], 1);
  m.clamps(1);
  m.samples(1);
  await reader.forceFlush();
  const series = new Set<string>();
  for (const rm of exporter.getMetrics()) {
    for (const sm of rm.scopeMetrics) {
      for (const md of sm.metrics) {
        if (md.dataPoints.length === 0) continue;
        const base = md.descriptor.name.replaceAll('.', '_') + (md.descriptor.unit === 'ms' ? '_milliseconds' : '');
        if (md.dataPointType === DataPointType.SUM) series.add(`${base}_total`);
        else if (md.dataPointType === DataPointType.HISTOGRAM) for (const s of ['_bucket', '_sum', '_count']) series.add(base + s);
        else series.add(base);
        for (const p of md.dataPoints) for (const k of Object.keys(p.attributes)) series.add(`label:${k.replaceAll('.', '_')}`);
      }
    }
  }
  return series;
}

describe('the Grafana dashboard docker-compose provisions (infra/grafana/dashboards)', () => {
  it('plots only series the telemetry service exports, grouped by labels they carry', async () => {
    const series = await exportedSeries();
    expect(series).toContain('berth_telemetry_host_mem_available');
    const dashboard = readFileSync(new URL('../../../../../infra/grafana/dashboards/berth-telemetry.json', import.meta.url), 'utf8');
    const plotted = new Set(dashboard.match(/berth_telemetry_[a-z_]+/g));
    expect(plotted.size).toBeGreaterThan(8);
    expect([...plotted].filter((s) => !series.has(s))).toEqual([]);
    const labels = new Set(dashboard.match(/\b(berth_(?:host|vm)_id|kind|outcome)\b/g));
    expect([...labels].filter((l) => !series.has(`label:${l}`))).toEqual([]);
  });
});
