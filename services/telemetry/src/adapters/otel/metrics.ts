import { metrics, type Attributes } from '@opentelemetry/api';
import type { telemetry } from '@berth/contracts';
import type { EvaluatorMetrics } from '../../application/evaluator.ts';
import type { SampleHistory } from '../../application/history.ts';

/** Host statistics exported as gauges `berth.telemetry.host.<stat>` (MOM names; memory in KiB). */
const HOST_STATS = [
  'mem_available',
  'mem_free',
  'mem_unused',
  'swap_total',
  'swap_usage',
  'swap_in',
  'swap_out',
  'anon_pages',
  'mem_committed',
  'cpu_count',
  'cpu_usage',
  'ksm_run',
  'ksm_pages_to_scan',
  'ksm_sleep_millisecs',
  'ksm_pages_shared',
  'ksm_pages_sharing',
  'ksm_pages_unshared',
  'ksm_pages_volatile',
  'ksm_full_scans',
  'ksm_merge_across_nodes',
  'ksm_shareable',
  'ksmd_cpu_usage',
];
const GUEST_STATS = [
  'balloon_cur',
  'balloon_max',
  'balloon_min',
  'rss',
  'mem_available',
  'mem_unused',
  'mem_usable',
  'swap_in',
  'swap_out',
  'major_fault',
  'minor_fault',
  'disk_caches',
  'vcpu_count',
  'vcpu_max',
  'cpu_time',
  'cpu_user',
  'cpu_system',
  'vcpu_quota',
  'vcpu_period',
];

/**
 * Every statistic as an OpenTelemetry metric through the SDK the service starts (OTLP when
 * configured): host and guest gauges read from the sample history at collection time (nothing is
 * done per sample), decision counters and the evaluation time as a histogram.
 */
export function telemetryMetrics(history: SampleHistory, opts: { guestGauges: boolean }): EvaluatorMetrics & { samples(n: number): void } {
  const meter = metrics.getMeter('@berth/telemetry');
  const hostGauges = HOST_STATS.map(
    (s) => [s, meter.createObservableGauge(`berth.telemetry.host.${s}`, { description: `MOM host statistic ${s}` })] as const,
  );
  const guestGauges = opts.guestGauges
    ? GUEST_STATS.map(
        (s) => [s, meter.createObservableGauge(`berth.telemetry.guest.${s}`, { description: `MOM guest statistic ${s}` })] as const,
      )
    : [];
  meter.addBatchObservableCallback(
    (r) => {
      for (const { hostId, host, guests } of history.latest()) {
        const ha: Attributes = { 'berth.host_id': hostId };
        for (const [s, g] of hostGauges) if (host[s] !== undefined) r.observe(g, host[s], ha);
        for (const [vmId, gs] of guests) {
          const ga: Attributes = { 'berth.host_id': hostId, 'berth.vm_id': vmId };
          for (const [s, g] of guestGauges) if (gs[s] !== undefined) r.observe(g, gs[s], ga);
        }
      }
    },
    [...hostGauges.map(([, g]) => g), ...guestGauges.map(([, g]) => g)],
  );
  const intervals = meter.createCounter('berth.telemetry.intervals', {
    description: 'Host policy intervals by outcome (changed, unchanged, failed, superseded)',
  });
  const controls = meter.createCounter('berth.telemetry.controls', { description: 'Controls sent to executors by kind' });
  const failed = meter.createCounter('berth.telemetry.controls.failed', { description: 'Controls an executor did not apply' });
  const clamps = meter.createCounter('berth.telemetry.sla.clamps', {
    description: 'Policy decisions changed by the SLA clamp or the minimum step',
  });
  const samples = meter.createCounter('berth.telemetry.samples', { description: 'Host samples received' });
  const evalTime = meter.createHistogram('berth.telemetry.evaluation.duration', {
    unit: 'ms',
    description: 'One host interval: policy, clamp and controls',
  });
  return {
    interval(_hostId, outcome, millis) {
      intervals.add(1, { outcome });
      evalTime.record(millis);
    },
    controls(list: readonly telemetry.Control[], nFailed) {
      for (const c of list) controls.add(1, { kind: c.kind });
      if (nFailed > 0) failed.add(nFailed);
    },
    clamps(n) {
      if (n > 0) clamps.add(n);
    },
    samples(n) {
      samples.add(n);
    },
  };
}
