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
import {
  HostFileStats,
  parseGuestDomstats,
  parseNodeMemoryTune,
  parseNodeMemStats,
  SimMemoryModel,
  SimulatorFleet,
} from '@berth/hypervisor';
import { SampleHistory } from '../../application/history.ts';
import { telemetryMetrics } from './metrics.ts';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(provider);
afterAll(() => provider.shutdown());

const capabilities = { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: false, balloon: true };

/** Every instrument, as the collector's Prometheus exporter names its series (docker-compose). */
async function exportedSeries(
  host: Record<string, number> = Object.fromEntries(
    ['mem_available', 'mem_free', 'mem_unused', 'swap_usage', 'cpu_usage', 'ksm_run', 'ksm_pages_shared', 'ksm_pages_sharing'].map((s) => [
      s,
      1,
    ]),
  ),
  guest: Record<string, number> = { balloon_cur: 1 },
): Promise<Set<string>> {
  exporter.reset();
  const history = new SampleHistory(10);
  history.add({ v: 1, hostId: 'h1', at: new Date().toISOString(), capabilities, host, guests: [{ vmId: 'vm1', stats: guest }] }, 0);
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

describe('every statistic a collector reports leaves as a gauge (issue 13)', () => {
  it("the simulator's, libvirt's (virsh) and the host files' statistics, host and guest", async () => {
    // The simulator's memory model: one running guest, sampled twice.
    const fleet = new SimulatorFleet();
    fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 8 * 1024 ** 3 });
    const vm = '0d2c8a9e-1111-4222-8333-444455556666';
    await fleet.driver('sim://h1').define({ vmId: vm, vcpus: 2, memoryBytes: 1024 ** 3 } as never);
    await fleet.driver('sim://h1').start(vm);
    let t = 0;
    const src = new SimMemoryModel(fleet, { now: () => t }).source('h1');
    await src.sample();
    t = 5;
    const sim = await src.sample();
    // libvirt: what the virsh parsers return, what LibvirtTelemetry.sample adds, and MOM's host files.
    const domstats = parseGuestDomstats(
      [
        "Domain: 'berth-x'",
        'state.state=1',
        ...[
          'current',
          'maximum',
          'rss',
          'available',
          'unused',
          'usable',
          'swap_in',
          'swap_out',
          'major_fault',
          'minor_fault',
          'disk_caches',
        ].map((k) => `balloon.${k}=1`),
        ...['vcpu.current', 'vcpu.maximum', 'cpu.time', 'cpu.user', 'cpu.system'].map((k) => `${k}=1`),
      ].join('\n'),
    );
    const ksmFiles = [
      'run',
      'pages_to_scan',
      'sleep_millisecs',
      'merge_across_nodes',
      'pages_shared',
      'pages_sharing',
      'pages_unshared',
      'pages_volatile',
      'full_scans',
    ];
    const files = await new HostFileStats(async () => ({
      meminfo: 'SwapTotal: 10 kB\nSwapFree: 5 kB\nAnonPages: 3 kB\n',
      vmstat: 'pswpin 1\npswpout 2\n',
      ksm: new Map(ksmFiles.map((k) => [k, '1'])),
      ksmdStat: '1 (ksmd) S 2 0 0 0 -1 0 0 0 0 0 5 6 0 0',
    })).sample();
    const libvirtHost = {
      ...parseNodeMemStats('total : 100 KiB\nfree : 10 KiB\nbuffers : 1 KiB\ncached : 2 KiB\n'),
      ...parseNodeMemoryTune('shm_pages_to_scan 100\nshm_sleep_millisecs 20\nshm_full_scans 0\nshm_merge_across_nodes 1\n'),
      ...files,
      ...Object.fromEntries(['cpu_count', 'cpu_usage', 'ksm_shareable', 'mem_committed'].map((k) => [k, 1])), // LibvirtTelemetry.sample
    };
    const host = { ...sim.host, ...libvirtHost };
    const guest = { ...sim.guests[0]!.stats, ...domstats[0]!.stats };
    expect(Object.keys(host).length).toBeGreaterThanOrEqual(22);
    expect(Object.keys(guest).length).toBeGreaterThanOrEqual(18);
    const series = await exportedSeries(host, guest);
    expect(Object.keys(host).filter((k) => !series.has(`berth_telemetry_host_${k}`))).toEqual([]);
    expect(Object.keys(guest).filter((k) => !series.has(`berth_telemetry_guest_${k}`))).toEqual([]);
  });
});
