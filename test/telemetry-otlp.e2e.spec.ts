import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCapacity } from '@berth/fit';
import { SimulatorFleet } from '@berth/hypervisor';
import { createLogger } from '@berth/observability';
import { loadExecutorConfig, startExecutor, type RunningSimExecutor } from '@berth/placement-executor';
import { FakeInventory } from '@berth/placement-executor/testing';
import { connectTestNats, createTestDatabase, eventually, infraAvailable, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { startService, type ServiceHandle } from './harness/service.ts';
import { serviceTlsEnv } from './harness/tls.ts';

const GiB = 1024 ** 3;
const VM = '00000000-0000-4000-8000-0000000000a1';

interface Point {
  asInt?: string | number;
  asDouble?: number;
  attributes?: { key: string; value: { stringValue?: string } }[];
}
interface Metric {
  name: string;
  sum?: { dataPoints: Point[] };
  gauge?: { dataPoints: Point[] };
  histogram?: { dataPoints: unknown[] };
}

const read = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/**
 * Every statistic also leaves as an OpenTelemetry metric: the telemetry service runs as its own
 * process with only the standard OTEL_* variables pointing at an OTLP/HTTP receiver (what the
 * docker-compose collector is), and the executor on the simulator (in this process) samples a host
 * with one VM. The receiver gets MOM's host and guest statistics as gauges with the host and VM as
 * attributes, and the decision counters.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))(
  'telemetry metrics over OTLP (telemetry process, executor on the simulator)',
  () => {
    const metrics = new Map<string, Metric[]>();
    const receiver = createServer((req, res) => {
      void read(req).then((body) => {
        if (req.url === '/v1/metrics') {
          const parsed = JSON.parse(body) as { resourceMetrics: { scopeMetrics: { metrics: Metric[] }[] }[] };
          for (const m of parsed.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))) {
            metrics.set(m.name, [...(metrics.get(m.name) ?? []), m]);
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    const prefix = testSubjectPrefix('otlp_tel');
    const fleet = new SimulatorFleet();
    fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 8 * GiB });
    let exDb: TestDatabase;
    let telDb: TestDatabase;
    let nc: NatsConnection;
    let ex: RunningSimExecutor;
    let tel: ServiceHandle;

    beforeAll(async () => {
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      const { port } = receiver.address() as AddressInfo;
      [exDb, telDb, nc] = await Promise.all([createTestDatabase('otlp_ex'), createTestDatabase('otlp_tel'), connectTestNats()]);
      ex = await startExecutor(
        loadExecutorConfig({
          ...serviceTlsEnv('placement-executor'),
          DATABASE_URL: exDb.url,
          NATS_URL: process.env['NATS_URL'],
          NATS_PREFIX: prefix,
          EXECUTOR_GRPC_PORT: '0',
          EXECUTOR_SAMPLE_INTERVAL: '200ms',
          EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '1h' }),
        }),
        createLogger('otlp-executor'),
        { simulator: fleet, sweepMillis: 300 },
      );
      tel = await startService('telemetry', {
        DATABASE_URL: telDb.url,
        NATS_PREFIX: prefix,
        TELEMETRY_POLICY_INTERVAL: '500ms',
        TELEMETRY_SAMPLE_INTERVAL: '200ms',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_METRIC_EXPORT_INTERVAL: '300',
      });
      const inv = new FakeInventory(nc, prefix);
      inv.listen();
      await inv.emit('host-h1', 'HostRegistered', {
        hostId: 'h1',
        hypervisorUri: 'sim://h1',
        capacity: hostCapacity({ hostId: 'h1', cpus: 8, memoryBytes: 8 * GiB }),
      });
      // the executor took the registration (a malformed one is dead-lettered and the host never registered)
      await eventually(async () => (await ex.readModel.hostUri('h1')) !== undefined, 'the executor registers h1', 10_000);
      expect(await ex.readModel.hostUri('h1')).toBe('sim://h1');
      await inv.place(VM, 'h1', 'sim://h1', { memoryBytes: 2 * GiB }, { memoryBytes: 2 * GiB, slaTier: 'gold', priority: 0 });
      ex.memoryModel.setWorkload(VM, 0.5);
    });
    afterAll(async () => {
      await tel?.stop();
      await ex?.stop();
      await nc?.close();
      await Promise.all([exDb?.drop(), telDb?.drop()]);
      receiver.closeAllConnections(); // the exporter keeps its connection alive
      await new Promise((r) => receiver.close(r));
    });

    const lastPoint = (name: string, attrs: Record<string, string>): Point | undefined =>
      (metrics.get(name) ?? [])
        .flatMap((m) => m.gauge?.dataPoints ?? m.sum?.dataPoints ?? [])
        .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes?.some((a) => a.key === k && a.value.stringValue === v)))
        .at(-1);
    const value = (p: Point | undefined): number => Number(p?.asInt ?? p?.asDouble ?? NaN);

    it('exports host and guest statistics as gauges with their entity attributes, and the decision counters', async () => {
      await expect
        .poll(() => value(lastPoint('berth.telemetry.host.mem_available', { 'berth.host_id': 'h1' })), { timeout: 30_000 })
        .toBeGreaterThan(0);
      // memory statistics are KiB, as MOM names them: at most the simulated host's 8 GiB
      expect(value(lastPoint('berth.telemetry.host.mem_available', { 'berth.host_id': 'h1' }))).toBeLessThanOrEqual((8 * GiB) / 1024);
      expect(value(lastPoint('berth.telemetry.host.cpu_count', { 'berth.host_id': 'h1' }))).toBe(8);
      await expect
        .poll(() => value(lastPoint('berth.telemetry.guest.balloon_cur', { 'berth.host_id': 'h1', 'berth.vm_id': VM })), {
          timeout: 30_000,
        })
        .toBe((2 * GiB) / 1024);
      await expect.poll(() => value(lastPoint('berth.telemetry.samples', {})), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(() => metrics.has('berth.telemetry.intervals'), { timeout: 30_000 }).toBe(true);
      expect(metrics.get('berth.telemetry.evaluation.duration')?.some((m) => (m.histogram?.dataPoints.length ?? 0) > 0)).toBe(true);
    });
  },
);
